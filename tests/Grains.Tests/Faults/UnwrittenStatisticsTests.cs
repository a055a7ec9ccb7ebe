using System.Diagnostics.Metrics;
using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The gauges an operator alerts on while the site's database refuses the statistics writes: how many bytes the silo
/// holds unwritten, and since when. Read as an exporter reads them (the silo's observable instruments), on the real
/// PostgreSQL whose writes fail until the test lets them through.
/// </summary>
public sealed class UnwrittenStatisticsTests : FaultInjectingPostgresCluster<UnwrittenStatisticsTests.FlushingSilo>
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(5);

    protected override Task PrepareDatabaseAsync() => Database.ExecuteAsync("insert into users (id, passkey) values (1, 'unwrittenstats001')");

    [Fact]
    public async Task WhileTheDatabaseRefusesWrites_TheGaugesShowTheBytesHeldAndTheirAge_AndZeroOnceWritten()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", hash.Value.ToArray());
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(hash, 0, 0)).Status);
        await TickAsync(FlushInterval);
        await Eventually.TrueAsync(async () => await PeerRowsAsync() == 1, "the peer's row written");
        var emptyAtStart = await GaugesOnceZeroAsync();

        var refusedBefore = Store.FaultsInjected;
        Store.WritesFail = true;
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(hash, uploaded: 300, downloaded: 400)).Status);
        await TickAsync(FlushInterval);
        await Eventually.TrueAsync(() => Task.FromResult(Store.FaultsInjected > refusedBefore), "the flush's write refused");
        // A minute with the database away (the gauges are summed at most once a second of the silo's clock).
        await TickAsync(TimeSpan.FromMinutes(1));
        var whileRefused = ReadGauges();

        Store.WritesFail = false;
        await Eventually.TrueAsync(
            async () =>
            {
                await TickAsync(FlushInterval);
                return await Database.ScalarAsync<long>("select raw_uploaded from users where id = 1") == 300;
            },
            "the held bytes written once the database takes writes again");
        var onceWritten = await GaugesOnceZeroAsync();

        Assert.Equal((0, 0.0), emptyAtStart);
        Assert.Equal(700, whileRefused.Bytes);
        // Accounted at the announce, a flush interval and a minute before the reading.
        Assert.InRange(whileRefused.AgeSeconds, (FlushInterval + TimeSpan.FromMinutes(1)).TotalSeconds, TimeSpan.FromMinutes(2).TotalSeconds);
        Assert.Equal((0, 0.0), onceWritten);
        Assert.Equal(400, await Database.ScalarAsync<long>("select raw_downloaded from users where id = 1"));
    }

    /// <summary>
    /// The gauges once they read zero, a second of the silo's clock apart, or their last reading: the swarm takes a
    /// write's answer in its own turn, a moment after the database committed it.
    /// </summary>
    private Task<(long Bytes, double AgeSeconds)> GaugesOnceZeroAsync() => Eventually.ValueAsync(
        async () =>
        {
            await TickAsync(TimeSpan.FromSeconds(1));
            return ReadGauges();
        },
        gauges => gauges == (0, 0.0));

    /// <summary>The silo's unwritten-statistics gauges, observed as an exporter observes them.</summary>
    private (long Bytes, double AgeSeconds) ReadGauges()
    {
        // Other test classes' silos in this process have instruments of the same names: only this silo's are read.
        var meters = Silo.GetRequiredService<IMeterFactory>();
        _ = Silo.GetRequiredService<SiloMetrics>();
        long? bytes = null;
        double? age = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listening) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Meter.Name == TrackerMeter.Name
                    && instrument.Name is "chihaya.stats.unwritten" or "chihaya.stats.unwritten.age")
                {
                    listening.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => bytes = value);
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => age = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return (bytes ?? throw new InvalidOperationException("no unwritten-bytes gauge"), age ?? throw new InvalidOperationException("no unwritten-age gauge"));
    }

    private Task<long> PeerRowsAsync() => Database.ScalarAsync<long>("select count(*) from tracker_peers where torrent_id = 1");

    /// <summary>User 1's leecher announces, as the clock reads now.</summary>
    private async Task<AnnounceResult> AnnounceAsync(InfoHash hash, long uploaded, long downloaded) =>
        await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).Announce(new AnnounceCommand(
            PeerId.Read(Enumerable.Repeat((byte)1, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6881), uploaded, downloaded, 1_000,
            AnnounceEvent.None, 10, false, new Passkey("unwrittenstats001").ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));

    public sealed class FlushingSilo : FaultInjectingPostgresSilo
    {
        // Swarms write as in production, so the statistics reach the database without the test asking.
        protected override void ConfigureOptions(IServiceCollection services) =>
            services.Configure<StatsOptions>(options => options.FlushInterval = FlushInterval);
    }
}
