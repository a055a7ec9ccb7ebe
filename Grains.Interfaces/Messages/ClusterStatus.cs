using System.Collections.Immutable;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>One health check's finding, as <c>/readyz</c> reports it.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.StatusCheck")]
public sealed record StatusCheck(
    [property: Id(0)] bool Ok,
    [property: Id(1)] string Detail);

/// <summary>A swarm's peers.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.SwarmSize")]
public sealed record SwarmSize(
    [property: Id(0)] int Seeders,
    [property: Id(1)] int Leechers);

/// <summary>What a silo reports to the cluster's status every interval.</summary>
/// <param name="Silo">The silo's address.</param>
/// <param name="At">When it was measured, by the silo's clock.</param>
/// <param name="Swarms">Swarms with at least one peer held by the silo.</param>
/// <param name="Seeders">Seeders in its swarms.</param>
/// <param name="Leechers">Leechers in its swarms.</param>
/// <param name="UnwrittenBytes">Raw bytes accounted and not yet written to the database.</param>
/// <param name="OldestUnwrittenAge">Seconds since the oldest announce not yet written was accounted (0: none).</param>
/// <param name="CachedUsers">Users in the silo's directory.</param>
/// <param name="Checks">Its readiness checks (cluster, database, swarms) and, with Redis membership, Redis answering a PING.</param>
/// <param name="Busiest">Its busiest swarms, by lower-case hex info hash.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.SiloStatusReport")]
public sealed record SiloStatusReport(
    [property: Id(0)] string Silo,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] int Swarms,
    [property: Id(3)] long Seeders,
    [property: Id(4)] long Leechers,
    [property: Id(5)] long UnwrittenBytes,
    [property: Id(6)] double OldestUnwrittenAge,
    [property: Id(7)] int CachedUsers,
    [property: Id(8)] ImmutableDictionary<string, StatusCheck> Checks,
    [property: Id(9)] ImmutableDictionary<string, SwarmSize> Busiest);

/// <summary>What a gateway reports every interval: its running totals since it started, by outcome label (<c>accepted</c>, <c>unknown_passkey</c>, ...).</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.GatewayStatusReport")]
public sealed record GatewayStatusReport(
    [property: Id(0)] string Gateway,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] ImmutableDictionary<string, long> Announces,
    [property: Id(3)] ImmutableDictionary<string, long> Scrapes);

/// <summary>One point of the cluster's history: rates summed over the gateways, sizes summed over the silos.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.StatusPoint")]
public sealed record StatusPoint(
    [property: Id(0)] double AcceptedPerSecond,
    [property: Id(1)] double RefusedPerSecond,
    [property: Id(2)] double ScrapesPerSecond,
    [property: Id(3)] int Swarms,
    [property: Id(4)] long Seeders,
    [property: Id(5)] long Leechers,
    [property: Id(6)] long UnwrittenBytes,
    [property: Id(7)] double OldestUnwrittenAge,
    [property: Id(8)] int Silos,
    [property: Id(9)] int Gateways);

/// <summary>The cluster's status: its history by time (Unix milliseconds) and the latest report of each process still reporting.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.ClusterStatus")]
public sealed record ClusterStatus(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] TimeSpan Interval,
    [property: Id(2)] ImmutableDictionary<long, StatusPoint> History,
    [property: Id(3)] ImmutableDictionary<string, SiloStatusReport> Silos,
    [property: Id(4)] ImmutableDictionary<string, GatewayStatusReport> Gateways);
