using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// The completed count a swarm reports (scrapes, announces) is the site's count as last read plus what its flushes
/// counted since. A re-read and a flush that overlap must not lose the flush's snatches, nor count them twice, until
/// the next re-read an hour on.
/// </summary>
public sealed class SnatchCountTests : ReadHoldingCluster<SnatchCountTests.Silo>
{
    [Fact]
    public async Task Snatches_AReadOfTheTorrentAnsweringAfterAFlushCountedOne_DoNotForgetIt()
    {
        var torrent = await SnatchedSwarmAsync(601, 602);

        // A re-read (a change notice's) reads the torrent before the snatch is written, so it finds none; its answer
        // comes back after the flush has written the snatch and been answered.
        var read = Store.HoldNextRead(torrent.GetPrimaryKeyString());
        var refreshing = torrent.Refresh().AsTask();
        await read.Read.WaitAsync(Deadline);
        await torrent.FlushUsage().AsTask().WaitAsync(Deadline);
        read.Release();
        await refreshing.WaitAsync(Deadline);

        var counts = await torrent.Scrape();

        Assert.Equal(1, counts.Downloaded);
    }

    [Fact]
    public async Task Snatches_AReadOfTheTorrentAnsweringBeforeTheFlushThatItSaw_DoNotCountThemTwice()
    {
        var torrent = await SnatchedSwarmAsync(603, 604);

        // The flush writes the snatch, but its answer is slow to come back; a re-read (a change notice's) meanwhile
        // finds the snatch counted by the site, while the swarm still counts it as its flush's.
        var write = Store.HoldNextWriteAnswer();
        var flushing = torrent.FlushUsage().AsTask();
        await write.Read.WaitAsync(Deadline);
        // (Refresh is interleaved, so it runs while the flush waits for its answer.)
        await torrent.Refresh().AsTask().WaitAsync(Deadline);
        write.Release();
        await flushing.WaitAsync(Deadline);

        var counts = await torrent.Scrape();

        Assert.Equal(1, counts.Downloaded);
    }

    /// <summary>A torrent whose one peer has completed, not yet written.</summary>
    private async Task<ITorrentGrain> SnatchedSwarmAsync(long userId, long torrentId)
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(passkey, new UserProfile(userId, Multipliers.Neutral, true));
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Announce(long left, AnnounceEvent announceEvent) => new(
            PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, left, announceEvent, 10, false,
            passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));
        await torrent.Announce(Announce(10, AnnounceEvent.Started));
        await torrent.Announce(Announce(0, AnnounceEvent.Completed));
        return torrent;
    }

    public sealed class Silo : ReadHoldingSilo
    {
        protected override void ConfigureOptions(IServiceCollection services)
        {
            // Nothing is written or read but what the test asks for.
            services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromHours(1));
            services.Configure<SiteOptions>(options => options.RefreshInterval = TimeSpan.FromHours(1));
        }
    }
}
