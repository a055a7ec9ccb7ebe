using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// Swarms have no timers: the silo's sweeper calls a swarm only when it has housekeeping due. An idle swarm holding
/// a peer is called to write its change once and to prune when its peer can time out, not every period; and it
/// still prunes on time.
/// </summary>
public sealed class SwarmSweeperTests : IAsyncLifetime
{
    // The silo's clock; a new one per test (the tests of a class run one at a time): Orleans keeps time by it too, and a
    // cluster started on a clock an earlier test moved hours on could not connect its client.
    private static FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static readonly GrainCallCounter Sweeps = new(context => context.InterfaceMethod.Name == nameof(ITorrentGrain.Sweep));
    private TestCluster _cluster = null!;

    private SwarmSweeper Sweeper => ((InProcessSiloHandle)_cluster.Primary!).SiloHost.Services.GetRequiredService<SwarmSweeper>();

    public async Task InitializeAsync()
    {
        Clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<Configurator>().Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task IdleSwarms_AreSweptOnlyWhenSomethingIsDue_AndStillPruneOnTime()
    {
        const int Swarms = 20;
        var admin = _cluster.GrainFactory.GetGrain<ISiteAdminGrain>(0);
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await admin.PutUser(passkey, new UserProfile(1, Multipliers.Neutral, true));
        var torrents = new List<ITorrentGrain>();
        for (var i = 0; i < Swarms; i++)
        {
            var hash = InfoHash.Read(UrlBytes.Random20());
            await admin.PutTorrent(hash, new TorrentProfile(100 + i, TorrentStatus.Active, null, Multipliers.Neutral, 0));
            var torrent = _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
            var reply = await torrent.Announce(new AnnounceCommand(
                PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, 0, AnnounceEvent.Started, 10, false,
                passkey.ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));
            Assert.Equal(AnnounceStatus.Accepted, reply.Status);
            torrents.Add(torrent);
        }

        Sweeps.Reset();
        var tracker = new TrackerOptions();
        // An hour in prune intervals: 60 ticks, each of which used to fire a prune timer in every swarm and a flush
        // timer 12 times.
        for (var minute = 0; minute < 60; minute++)
        {
            await TickAsync(tracker.PruneInterval);
        }

        var sweepsInTheIdleHour = Sweeps.Count;
        var seedersBeforeTimeout = (await torrents[0].Scrape()).Complete;
        for (var elapsed = TimeSpan.FromHours(1); elapsed <= tracker.PeerTimeout + tracker.PruneInterval; elapsed += tracker.PruneInterval)
        {
            await TickAsync(tracker.PruneInterval);
        }

        var seedersAfterTimeout = await Task.WhenAll(torrents.Select(async torrent => (await torrent.Scrape()).Complete));

        // Each swarm: one sweep to write its new peer and the hourly re-read; none to prune before its peer can time out.
        Assert.True(sweepsInTheIdleHour <= 2 * Swarms, $"{sweepsInTheIdleHour} sweeps of {Swarms} idle swarms in an hour");
        Assert.Equal(1, seedersBeforeTimeout);
        Assert.All(seedersAfterTimeout, seeders => Assert.Equal(0, seeders));
    }

    [Fact]
    public async Task EmptySwarms_LeaveMemoryOnceNobodyAnnouncedToThemOrScrapedThemForTheirLifetime()
    {
        var admin = _cluster.GrainFactory.GetGrain<ISiteAdminGrain>(0);
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await admin.PutUser(passkey, new UserProfile(2, Multipliers.Neutral, true));
        var (everyoneLeft, onlyScraped) = (InfoHash.Read(UrlBytes.Random20()), InfoHash.Read(UrlBytes.Random20()));
        await admin.PutTorrent(everyoneLeft, new TorrentProfile(200, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        await admin.PutTorrent(onlyScraped, new TorrentProfile(201, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var swarms = new[] { everyoneLeft, onlyScraped }.Select(hash => _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey())).ToArray();
        foreach (var announced in new[] { AnnounceEvent.Started, AnnounceEvent.Stopped })
        {
            var reply = await swarms[0].Announce(new AnnounceCommand(
                PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, 100, announced, 10, false,
                passkey.ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));
            Assert.Equal(AnnounceStatus.Accepted, reply.Status);
        }

        // An hour after the peer left, both are scraped, then nobody uses them: the hourly re-read of their torrents
        // (a sweeper's call) must not keep them in memory, nor may they leave before their lifetime after the scrape.
        var lifetime = TrackerSiloBuilderExtensions.SwarmLifetime(new TrackerOptions());
        var step = new TrackerOptions().PruneInterval;
        await AdvanceAsync(TimeSpan.FromHours(1), step);
        Assert.All(await Task.WhenAll(swarms.Select(swarm => swarm.Scrape().AsTask())), counts => Assert.Equal(0, counts.Incomplete));
        await AdvanceAsync(lifetime - (2 * step), step);
        var activeJustBeforeTheirLifetime = new[] { Activations.Contains(everyoneLeft), Activations.Contains(onlyScraped) };
        await AdvanceAsync(4 * step, step);

        Assert.Equal([true, true], activeJustBeforeTheirLifetime);
        await Eventually.TrueAsync(
            () => Task.FromResult(!Activations.Contains(everyoneLeft) && !Activations.Contains(onlyScraped)), "the unused empty swarms deactivated");
        await AdvanceAsync(TimeSpan.FromHours(2), step);
        Assert.False(Activations.Contains(everyoneLeft) || Activations.Contains(onlyScraped), "nothing brought a swarm back");
    }

    [Fact]
    public async Task SwarmOnlyAskedForItsProfile_WithNoStoredPeers_LeavesAtItsFirstPrune()
    {
        var admin = _cluster.GrainFactory.GetGrain<ISiteAdminGrain>(0);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await admin.PutTorrent(hash, new TorrentProfile(300, TorrentStatus.Active, null, Multipliers.Neutral, 0));

        // A question that is no use of the swarm (as the orphaned-swarm sweep's wake, or an admin's look at the torrent).
        Assert.NotNull(await _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).GetProfile());
        var activeAfterTheQuestion = Activations.Contains(hash);
        var tracker = new TrackerOptions();
        await AdvanceAsync(2 * tracker.PruneInterval, tracker.PruneInterval);

        Assert.True(activeAfterTheQuestion);
        await Eventually.TrueAsync(() => Task.FromResult(!Activations.Contains(hash)), "the swarm nobody used deactivated");
    }

    private LocalActivations Activations => ((InProcessSiloHandle)_cluster.Primary!).SiloHost.Services.GetRequiredService<LocalActivations>();

    private async Task AdvanceAsync(TimeSpan span, TimeSpan step)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < span; elapsed += step)
        {
            await TickAsync(step);
        }
    }

    /// <summary>Moves the clock on and waits until the sweeper has finished a tick that read the new time.</summary>
    private async Task TickAsync(TimeSpan step)
    {
        Clock.Advance(step);
        var now = Clock.GetUtcNow().ToUnixTimeMilliseconds();
        await Eventually.TrueAsync(() => Task.FromResult(Sweeper.SweptUpTo >= now), "the sweeper finished a tick at the new time");
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<TimeProvider>(Clock);
            siloBuilder.Services.AddSingleton<IIncomingGrainCallFilter>(Sweeps);
            siloBuilder.AddTrackerGrains(new ConfigurationBuilder().Build());
            siloBuilder.Services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromSeconds(5));
        }
    }
}
