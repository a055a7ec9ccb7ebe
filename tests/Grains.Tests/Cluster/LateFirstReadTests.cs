using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// A swarm whose first read of its torrent answers only after its calls have stopped waiting for it (a slow
/// database): the read goes on, and what the site changed meanwhile must not be lost to its older answer.
/// </summary>
public sealed class LateFirstReadTests : ReadHoldingCluster<LateFirstReadTests.Silo>
{
    /// <summary>Refresh calls the silo has taken, counted as each reaches its swarm, in the swarm's turn.</summary>
    private static GrainCallCounter RefreshCalls { get; } = new(call => call.InterfaceMethod.Name == nameof(ITorrentGrain.Refresh));

    [Fact]
    public async Task Refresh_TorrentTheSiteChangedWhileItsSwarmsFirstReadWasOut_IsReadAgainOnceThatReadAnswers()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(513, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());

        // The swarm's first read finds the torrent active, and its answer is held past the scrape's wait for it.
        var firstRead = Store.HoldNextRead(hash.ToGrainKey());
        var unanswered = await Record.ExceptionAsync(() => torrent.Scrape().AsTask().WaitAsync(Deadline));
        // The site deletes the torrent meanwhile; its notice reaches the swarm while that read is still out.
        var refreshesBefore = RefreshCalls.Count;
        var deleting = Admin.PutTorrent(hash, new TorrentProfile(513, TorrentStatus.Deleted, "dupe", Multipliers.Neutral, 0)).AsTask();
        await Eventually.TrueAsync(() => Task.FromResult(RefreshCalls.Count > refreshesBefore), "the site's change reached the swarm");
        firstRead.Release();
        await deleting.WaitAsync(Deadline);

        var counts = await torrent.Scrape();

        Assert.IsType<SiteUnavailableException>(unanswered);
        Assert.False(counts.IsRegistered, "the swarm serves the torrent as its first read, from before the change, found it");
    }

    public sealed class Silo : ReadHoldingSilo
    {
        protected override void ConfigureOptions(IServiceCollection services)
        {
            services.AddSingleton<IIncomingGrainCallFilter>(RefreshCalls);
            // No periodic re-read repairs what the notice's read must.
            services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromHours(1));
            services.Configure<SiteOptions>(options => options.RefreshInterval = TimeSpan.FromHours(1));
        }
    }
}
