using System.Collections.Immutable;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Status;

/// <summary>
/// Keeps the cluster's last <see cref="StatusOptions.History"/> in memory, one point per <see cref="StatusOptions.ReportInterval"/>:
/// at each tick, the latest report of every silo summed (swarms, peers, unwritten statistics) and every gateway's rates
/// summed (each computed from its own two latest running totals, so a gateway starting or stopping never shows as a
/// spike). A process that has not reported for three intervals has stopped, and is left out from then on: timed by
/// when its reports arrived here, not by the times they carry, so a process whose clock is off is not taken for stopped.
/// </summary>
[GrainType("clusterstatus")]
internal sealed class ClusterStatusGrain(IOptions<StatusOptions> options, TimeProvider time) : Grain, IClusterStatusGrain
{
    private const string Accepted = "accepted";

    private readonly TimeSpan _interval = options.Value.ReportInterval;
    private readonly TimeSpan _history = options.Value.History;
    // Each silo's latest report, and when it arrived (this grain's clock).
    private readonly Dictionary<string, (SiloStatusReport Report, DateTimeOffset ArrivedAt)> _silos = [];
    private readonly Dictionary<string, GatewayRates> _gateways = [];
    private readonly SortedDictionary<long, StatusPoint> _points = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(_interval, _interval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public ValueTask ReportSilo(SiloStatusReport report)
    {
        _silos[report.Silo] = (report, time.GetUtcNow());
        return ValueTask.CompletedTask;
    }

    public ValueTask ReportGateway(GatewayStatusReport report)
    {
        _gateways[report.Gateway] = _gateways.TryGetValue(report.Gateway, out var previous)
            ? previous.Next(report, time.GetUtcNow())
            : new GatewayRates(report, time.GetUtcNow(), 0, 0, 0);
        return ValueTask.CompletedTask;
    }

    public ValueTask<ClusterStatus> GetStatus()
    {
        var now = time.GetUtcNow();
        Forget(now);
        return ValueTask.FromResult(new ClusterStatus(
            now,
            _interval,
            _points.ToImmutableDictionary(),
            _silos.ToImmutableDictionary(pair => pair.Key, pair => pair.Value.Report),
            _gateways.ToImmutableDictionary(pair => pair.Key, pair => pair.Value.Last)));
    }

    private Task TickAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Forget(now);
        _points[now.ToUnixTimeMilliseconds()] = new StatusPoint(
            _gateways.Values.Sum(gateway => gateway.AcceptedPerSecond),
            _gateways.Values.Sum(gateway => gateway.RefusedPerSecond),
            _gateways.Values.Sum(gateway => gateway.ScrapesPerSecond),
            _silos.Values.Sum(silo => silo.Report.Swarms),
            _silos.Values.Sum(silo => silo.Report.Seeders),
            _silos.Values.Sum(silo => silo.Report.Leechers),
            _silos.Values.Sum(silo => silo.Report.UnwrittenBytes),
            _silos.Values.Select(silo => silo.Report.OldestUnwrittenAge).DefaultIfEmpty(0).Max(),
            _silos.Count,
            _gateways.Count);
        return Task.CompletedTask;
    }

    /// <summary>Drops processes that stopped reporting and points older than the history kept.</summary>
    private void Forget(DateTimeOffset now)
    {
        var silent = now - (3 * _interval);
        foreach (var (name, _) in _silos.Where(pair => pair.Value.ArrivedAt < silent).ToList())
        {
            _silos.Remove(name);
        }

        foreach (var (name, _) in _gateways.Where(pair => pair.Value.ArrivedAt < silent).ToList())
        {
            _gateways.Remove(name);
        }

        var oldest = (now - _history).ToUnixTimeMilliseconds();
        foreach (var at in _points.Keys.TakeWhile(at => at < oldest).ToList())
        {
            _points.Remove(at);
        }
    }

    /// <summary>
    /// A gateway's latest totals, when they arrived here, and the rates since its report before (timed by the gateway's
    /// own clock, which both reports carry).
    /// </summary>
    private sealed record GatewayRates(GatewayStatusReport Last, DateTimeOffset ArrivedAt, double AcceptedPerSecond, double RefusedPerSecond, double ScrapesPerSecond)
    {
        public GatewayRates Next(GatewayStatusReport report, DateTimeOffset arrivedAt)
        {
            var seconds = (report.At - Last.At).TotalSeconds;
            if (seconds <= 0)
            {
                return this with { Last = report, ArrivedAt = arrivedAt };
            }

            var accepted = Delta(report.Announces, Last.Announces, label => label == Accepted);
            var refused = Delta(report.Announces, Last.Announces, label => label != Accepted);
            var scrapes = Delta(report.Scrapes, Last.Scrapes, _ => true);
            return new GatewayRates(report, arrivedAt, accepted / seconds, refused / seconds, scrapes / seconds);
        }

        // A total that went down belongs to a restarted gateway of the same name: its new total is all since the restart.
        private static double Delta(ImmutableDictionary<string, long> now, ImmutableDictionary<string, long> before, Func<string, bool> counts) =>
            now.Where(pair => counts(pair.Key))
                .Sum(pair => (double)(before.TryGetValue(pair.Key, out var earlier) && earlier <= pair.Value ? pair.Value - earlier : pair.Value));
    }
}
