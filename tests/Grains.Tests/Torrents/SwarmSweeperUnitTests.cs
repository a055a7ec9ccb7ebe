using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Torrents;

/// <summary>
/// The silo's sweeper on its own: it keeps swarms' due times in pages of slots, and every due swarm is swept once a tick
/// whatever came and went; the status page's busiest swarms are the largest by peers, found in one pass.
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

    private sealed class CountingSwarm : ITorrentGrain
    {
        public int Sweeps { get; private set; }

        public ValueTask Sweep()
        {
            Sweeps++;
            return ValueTask.CompletedTask;
        }

        public ValueTask<AnnounceResult> Announce(AnnounceCommand command) => throw new NotSupportedException();

        public ValueTask<TorrentCounts> Scrape() => throw new NotSupportedException();

        public ValueTask<TorrentProfile?> GetProfile() => throw new NotSupportedException();

        public ValueTask Refresh() => throw new NotSupportedException();

        public ValueTask FlushUsage() => throw new NotSupportedException();
    }
}
