using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Tests.Torrents;

/// <summary>The status page's busiest swarms: the largest by peers, largest first, found in one pass.</summary>
public sealed class BusiestSwarmsTests
{
    [Fact]
    public void Busiest_AreTheLargestByPeers_LargestFirst()
    {
        var sweeper = new SwarmSweeper(
            Options.Create(new StatsOptions()), Options.Create(new TrackerOptions()), Options.Create(new SiteOptions()), TimeProvider.System, NullLogger<SwarmSweeper>.Instance);
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
}
