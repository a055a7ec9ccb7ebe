using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Torrents;

/// <summary>
/// The silo's sweeper on its own: it keeps swarms' due times in pages of slots, and every due swarm is swept once a tick
/// whatever came and went; ticks come a hundredth of the shortest period apart (never closer than 10 ms), and only a few
/// sweeps are in flight at once, so a tick's sweeps never queue ahead of announces in bulk; the status page's busiest
/// swarms are the largest by peers, found in one pass.
/// </summary>
public sealed class SwarmSweeperUnitTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UnixEpoch.AddDays(20000));

    private SwarmSweeper NewSweeper() => new(
        Options.Create(new StatsOptions()), Options.Create(new TrackerOptions()), Options.Create(new SiteOptions()), _clock, NullLogger<SwarmSweeper>.Instance);

    [Fact]
    public void Busiest_AreTheLargestByPeers_LargestFirst()
    {
        var sweeper = NewSweeper();
        int[][] sizes = [[3, 1], [0, 0], [10, 2], [1, 0], [5, 5], [0, 7], [2, 2]];
        var swarms = sizes.Select((size, i) =>
        {
            var swarm = new SwarmSchedule(null!, default(InfoHash));
            swarm.PublishSize(size[0], size[1]);
            sweeper.Add(swarm);
            return swarm;
        }).ToList();

        Assert.Equal([swarms[2], swarms[4], swarms[5]], sweeper.Busiest(3));
        Assert.Equal(7, sweeper.Busiest(10).Count);
        Assert.Empty(sweeper.Busiest(0));
    }

    [Fact]
    public async Task SweepDue_SweepsExactlyTheDueSwarms_AcrossPages_AndAfterSlotsAreReused()
    {
        var sweeper = NewSweeper();
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        // More than a page of slots; a due time set before the swarm is added is kept.
        var swarms = Enumerable.Range(0, 5000).Select(i =>
        {
            var swarm = new SwarmSchedule(new CountingSwarm(), default(InfoHash)) { DueAt = i % 3 == 0 ? now : long.MaxValue };
            sweeper.Add(swarm);
            return swarm;
        }).ToList();

        // Every tenth goes; new ones take their slots, not yet due.
        foreach (var gone in swarms.Where((_, i) => i % 10 == 0).ToList())
        {
            sweeper.Remove(gone);
            swarms.Remove(gone);
        }

        var added = Enumerable.Range(0, 700).Select(_ => new SwarmSchedule(new CountingSwarm(), default(InfoHash))).ToList();
        added.ForEach(sweeper.Add);
        added[0].DueAt = now;
        await sweeper.SweepDueAsync();

        Assert.Equal(swarms.Count + added.Count, sweeper.Count);
        Assert.All(swarms.Concat(added), swarm => Assert.Equal(swarm.DueAt <= now ? 1 : 0, ((CountingSwarm)swarm.Grain).Sweeps));
        Assert.Equal(swarms.Count(swarm => swarm.DueAt <= now) + 1, swarms.Concat(added).Sum(swarm => ((CountingSwarm)swarm.Grain).Sweeps));
    }

    [Theory]
    [InlineData(5_000, 60_000, 60_000, 3_600_000, 50)] // the defaults: a hundredth of the 5 s flush interval
    [InlineData(30_000, 2_000, 60_000, 3_600_000, 20)] // whichever period is shortest, here pruning
    [InlineData(5_000, 60_000, 60_000, 3_000, 30)] // or re-reading torrents
    [InlineData(100, 60_000, 60_000, 3_600_000, 10)] // a hundredth would be 1 ms: never closer than 10 ms
    public void Tick_IsAHundredthOfTheShortestPeriod_NeverUnderTenMilliseconds(int flushMs, int pruneMs, int unknownMs, int refreshMs, int tickMs)
    {
        var tick = SwarmSweeper.TickFor(
            new StatsOptions { FlushInterval = TimeSpan.FromMilliseconds(flushMs) },
            new TrackerOptions { PruneInterval = TimeSpan.FromMilliseconds(pruneMs) },
            new SiteOptions { UnknownKeyLifetime = TimeSpan.FromMilliseconds(unknownMs), RefreshInterval = TimeSpan.FromMilliseconds(refreshMs) });

        Assert.Equal(TimeSpan.FromMilliseconds(tickMs), tick);
    }

    [Fact]
    public async Task SweepDue_KeepsOnlyAFewSweepsInFlight_AndSweepsEveryDueSwarm()
    {
        var sweeper = NewSweeper();
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = new InFlightCount();
        var swarms = Enumerable.Range(0, SwarmSweeper.SweepsAtOnce * 3).Select(_ => new CountingSwarm(gate.Task, inFlight)).ToList();
        swarms.ForEach(swarm => sweeper.Add(new SwarmSchedule(swarm, default(InfoHash)) { DueAt = now }));

        var sweeping = sweeper.SweepDueAsync();
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(inFlight.Now == SwarmSweeper.SweepsAtOnce), "sweeps started");
        }
        finally
        {
            gate.TrySetResult();
        }

        await sweeping;

        // One a core, but never one alone nor more than four, however many cores the silo sees.
        Assert.InRange(SwarmSweeper.SweepsAtOnce, 2, 4);
        Assert.Equal(SwarmSweeper.SweepsAtOnce, inFlight.Most);
        Assert.All(swarms, swarm => Assert.Equal(1, swarm.Sweeps));
    }

    private sealed class InFlightCount
    {
        private int _now;
        private int _most;

        public int Now => Volatile.Read(ref _now);

        public int Most => Volatile.Read(ref _most);

        public void Enter()
        {
            var now = Interlocked.Increment(ref _now);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }
        }

        public void Leave() => Interlocked.Decrement(ref _now);
    }

    /// <summary>A swarm that counts its sweeps; given a gate, each sweep lasts until the gate opens, counted in <paramref name="inFlight"/>.</summary>
    private sealed class CountingSwarm(Task? gate = null, InFlightCount? inFlight = null) : ITorrentGrain
    {
        public int Sweeps { get; private set; }

        public async ValueTask Sweep()
        {
            inFlight?.Enter();
            await (gate ?? Task.CompletedTask);
            Sweeps++;
            inFlight?.Leave();
        }

        public ValueTask<AnnounceResult> Announce(AnnounceCommand command) => throw new NotSupportedException();

        public ValueTask<TorrentCounts> Scrape() => throw new NotSupportedException();

        public ValueTask<TorrentProfile?> GetProfile() => throw new NotSupportedException();

        public ValueTask Refresh() => throw new NotSupportedException();

        public ValueTask FlushUsage() => throw new NotSupportedException();
    }
}
