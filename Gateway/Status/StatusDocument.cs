using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Gateway.Status;

/// <summary>The JSON of <c>GET /status/data</c>: what the page draws, in columns for its charts and rows for its tables.</summary>
internal static class StatusDocument
{
    /// <summary>How many of the busiest swarms the page lists, over all silos.</summary>
    public const int BusiestCount = 10;

    /// <summary>How long a silo that left stays in the members' table.</summary>
    private static readonly TimeSpan RecentlyLeft = TimeSpan.FromMinutes(15);

    public static object From(ClusterStatus status, MembershipEntry[] members, DateTimeOffset now)
    {
        var points = status.History.OrderBy(pair => pair.Key).ToList();
        var since = now - RecentlyLeft;
        return new
        {
            at = now,
            intervalSeconds = status.Interval.TotalSeconds,
            series = new
            {
                t = points.Select(point => point.Key / 1000.0),
                accepted = points.Select(point => Math.Round(point.Value.AcceptedPerSecond, 3)),
                refused = points.Select(point => Math.Round(point.Value.RefusedPerSecond, 3)),
                scrapes = points.Select(point => Math.Round(point.Value.ScrapesPerSecond, 3)),
                peers = points.Select(point => point.Value.Seeders + point.Value.Leechers),
                seeders = points.Select(point => point.Value.Seeders),
                leechers = points.Select(point => point.Value.Leechers),
                swarms = points.Select(point => point.Value.Swarms),
                unwrittenBytes = points.Select(point => point.Value.UnwrittenBytes),
                oldestUnwrittenAge = points.Select(point => Math.Round(point.Value.OldestUnwrittenAge, 1)),
            },
            // Every member still active, and those that left recently (Orleans keeps dead entries for days).
            members = members
                .Where(member => member.Status is not SiloStatus.Dead || new DateTimeOffset(member.IAmAliveTime, TimeSpan.Zero) >= since)
                .OrderBy(member => member.Status is SiloStatus.Dead ? 1 : 0)
                .ThenBy(member => member.SiloAddress.ToParsableString(), StringComparer.Ordinal)
                .Select(member => new
                {
                    address = member.SiloAddress.ToParsableString(),
                    name = member.SiloName,
                    host = member.HostName,
                    status = member.Status.ToString(),
                    startedAt = new DateTimeOffset(member.StartTime, TimeSpan.Zero),
                    aliveAt = new DateTimeOffset(member.IAmAliveTime, TimeSpan.Zero),
                    reporting = status.Silos.ContainsKey(member.SiloAddress.ToParsableString()),
                }),
            silos = status.Silos.Values.OrderBy(silo => silo.Silo, StringComparer.Ordinal).Select(silo => new
            {
                silo = silo.Silo,
                at = silo.At,
                silo.Swarms,
                silo.Seeders,
                silo.Leechers,
                silo.UnwrittenBytes,
                oldestUnwrittenAge = Math.Round(silo.OldestUnwrittenAge, 1),
                silo.CachedUsers,
                checks = silo.Checks.OrderBy(check => check.Key, StringComparer.Ordinal)
                    .Select(check => new { name = check.Key, ok = check.Value.Ok, detail = check.Value.Detail }),
            }),
            gateways = status.Gateways.Values.OrderBy(gateway => gateway.Gateway, StringComparer.Ordinal).Select(gateway => new
            {
                gateway = gateway.Gateway,
                at = gateway.At,
                announces = gateway.Announces.Where(pair => pair.Value > 0).OrderBy(pair => pair.Key, StringComparer.Ordinal).ToDictionary(),
                scrapes = gateway.Scrapes.Where(pair => pair.Value > 0).OrderBy(pair => pair.Key, StringComparer.Ordinal).ToDictionary(),
            }),
            busiest = status.Silos.Values
                .SelectMany(silo => silo.Busiest.Select(swarm => new { infoHash = swarm.Key, swarm.Value.Seeders, swarm.Value.Leechers, silo = silo.Silo }))
                .OrderByDescending(swarm => swarm.Seeders + swarm.Leechers)
                .ThenBy(swarm => swarm.infoHash, StringComparer.Ordinal)
                .Take(BusiestCount),
        };
    }
}
