using System.Data.Common;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Chihaya.Orleans.Grains.Tests.Accounting;

/// <summary>A silo's flush writer: a flush the database refuses fails alone; an outage fails the batch as it is.</summary>
public sealed class SwarmFlushWriterTests
{
    [Fact]
    public async Task Flush_TheDatabaseRefuses_FailsAlone_AndTheOthersOfItsBatchAreWritten()
    {
        var store = new RefusingStore(new InMemorySiteStore(), refusedTorrent: 3);
        var writer = new SwarmFlushWriter(store);
        var claims = new List<SwarmClaim>();
        for (var torrent = 1L; torrent <= 6; torrent++)
        {
            claims.Add(await store.ClaimSwarmAsync(torrent));
        }

        // The first write is held, so the flushes after it wait together: the refused one goes in a batch with others.
        store.HoldFirstWrite = true;
        var flushes = claims.Select((claim, i) => writer.WriteAsync(Flush(i + 1, claim.Epoch))).ToList();
        store.ReleaseFirstWrite();
        await Task.WhenAll(flushes.Select(f => f.ContinueWith(_ => { }, TaskScheduler.Default)));

        Assert.True(store.LargestRefusedBatch >= 2, $"the refused flush was written in a batch of {store.LargestRefusedBatch}");
        Assert.IsType<RefusedByDatabase>(flushes[2].Exception!.InnerException);
        Assert.All(flushes.Where((_, i) => i != 2), f => Assert.Equal(FlushStatus.Applied, f.Result.Status));
    }

    [Fact]
    public async Task Outage_FailsEveryFlushOfTheBatch_WithoutSplittingIt()
    {
        var store = new RefusingStore(new InMemorySiteStore(), refusedTorrent: null);
        var writer = new SwarmFlushWriter(store);
        var claims = new[] { await store.ClaimSwarmAsync(1), await store.ClaimSwarmAsync(2) };
        store.Down = true;

        var flushes = claims.Select((claim, i) => writer.WriteAsync(Flush(i + 1, claim.Epoch))).ToList();
        await Task.WhenAll(flushes.Select(f => f.ContinueWith(_ => { }, TaskScheduler.Default)));

        Assert.All(flushes, f => Assert.IsType<TimeoutException>(f.Exception!.InnerException));
        Assert.True(store.Attempts <= 2, $"{store.Attempts} writes for an outage");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WritesFailingForEverySwarm_AreLoggedOncePerBatch_NotOncePerSwarm(bool refusedNotDown)
    {
        // Down: a timeout fails a batch as it is. Refused (a standby that became read-only): each batch is split down to
        // single flushes, every one of which fails.
        var logger = new FakeLogger<SwarmFlushWriter>();
        var store = new RefusingStore(new InMemorySiteStore(), refusedTorrent: null);
        var writer = new SwarmFlushWriter(store, logger: logger);
        var claims = new List<SwarmClaim>();
        for (var torrent = 1L; torrent <= 10; torrent++)
        {
            claims.Add(await store.ClaimSwarmAsync(torrent));
        }

        store.Down = !refusedNotDown;
        store.RefusesAll = refusedNotDown;
        store.HoldFirstWrite = true;
        var flushes = claims.Select((claim, i) => writer.WriteAsync(Flush(i + 1, claim.Epoch))).ToList();
        store.ReleaseFirstWrite();
        await Task.WhenAll(flushes.Select(f => f.ContinueWith(_ => { }, TaskScheduler.Default)));
        var warnings = logger.Collector.GetSnapshot().Where(record => record.Level == LogLevel.Warning).ToList();

        Assert.All(flushes, f => Assert.True(f.IsFaulted));
        // The held first write and the one after it, which takes everything that came meanwhile.
        Assert.InRange(warnings.Count, 1, 2);
        Assert.All(warnings, warning => Assert.Contains(refusedNotDown ? "RefusedByDatabase" : "TimeoutException", warning.Exception!.GetType().Name, StringComparison.Ordinal));
    }

    private static SwarmFlush Flush(long torrentId, long epoch) =>
        new(torrentId, epoch, 1, new PeerChanges([], [], []), new TorrentUsage(torrentId, default, 0, 0, 0), []);

    private sealed class RefusedByDatabase : DbException
    {
        public override bool IsTransient => false;
    }

    /// <summary>A real store behind a database that refuses any write holding one torrent's flush, or is down.</summary>
    private sealed class RefusingStore(ISiteStore inner, long? refusedTorrent) : ForwardingSiteStore(inner)
    {
        private readonly TaskCompletionSource _firstWrite = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Down { get; set; }

        /// <summary>Refuses every write (as a read-only standby does), not only those holding the refused torrent's flush.</summary>
        public bool RefusesAll { get; set; }

        public bool HoldFirstWrite { get; set; }

        public int Attempts { get; private set; }

        public int LargestRefusedBatch { get; private set; }

        public void ReleaseFirstWrite() => _firstWrite.SetResult();

        public override async ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default)
        {
            if (++Attempts == 1 && HoldFirstWrite)
            {
                await _firstWrite.Task;
            }

            if (Down)
            {
                throw new TimeoutException("the database did not answer");
            }

            if (RefusesAll || flushes.Any(f => f.TorrentId == refusedTorrent))
            {
                LargestRefusedBatch = Math.Max(LargestRefusedBatch, flushes.Count);
                throw new RefusedByDatabase();
            }

            return await base.ApplyFlushesAsync(flushes, cancellationToken);
        }
    }
}
