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

/// <summary>The sweeper keeps swarms' due times in pages of slots: every due swarm is swept once a tick, whatever came and went.</summary>
public sealed class SwarmSweeperSlotsTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UnixEpoch.AddDays(20000));

    [Fact]
    public async Task SweepDue_SweepsExactlyTheDueSwarms_AcrossPages_AndAfterSlotsAreReused()
    {
        var sweeper = new SwarmSweeper(
            Options.Create(new StatsOptions()), Options.Create(new TrackerOptions()), Options.Create(new SiteOptions()), _clock, NullLogger<SwarmSweeper>.Instance);
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
