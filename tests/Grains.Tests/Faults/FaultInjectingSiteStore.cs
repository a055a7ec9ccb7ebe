using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Site;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The real store with faults on demand: a flush can fail before it reaches the database, or reach it
/// and then fail (the answer lost on the way back, the case that tempts a naive retry to count twice).
/// </summary>
internal sealed class FaultInjectingSiteStore(ISiteStore inner) : ForwardingSiteStore(inner)
{
    public enum Fault
    {
        None,
        FailBeforeApplying,
        FailAfterApplying,
    }

    /// <summary>What the next statistics write does; it resets to <see cref="Fault.None"/> once used.</summary>
    public Fault NextWrite { get; set; }

    /// <summary>While true, every statistics write fails before it reaches the database, as with the database down.</summary>
    public bool WritesFail { get; set; }

    /// <summary>How many of the next statistics writes fail before they reach the database, as a restarting one refuses connections.</summary>
    public int FailNextWrites { get; set; }

    public int FaultsInjected { get; private set; }

    /// <summary>Statistics writes the database took.</summary>
    public int WritesApplied => _writesApplied;

    private int _writesApplied;

    /// <summary>Statistics writes sent to the database (those applied, failed, and any still waiting for its answer).</summary>
    public int WritesStarted => _writesStarted;

    private int _writesStarted;

    /// <summary>Statistics writes the database failed (no injected fault: the database's own error).</summary>
    public int WritesFailed => _writesFailed;

    private int _writesFailed;

    /// <summary>How many times a user or torrent was read from the database.</summary>
    public int Reads => _reads;

    private int _reads;

    /// <summary>While true, every read of a user, a torrent or the client list fails, as with the database down (or a failover's moment).</summary>
    public bool ReadsFail { get; set; }

    /// <summary>Reads of a user, a torrent or the client list that failed because of <see cref="ReadsFail"/>.</summary>
    public int FailedReads => _failedReads;

    private int _failedReads;

    public override async ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default)
    {
        var fault = NextWrite;
        NextWrite = Fault.None;
        if (fault == Fault.FailBeforeApplying || WritesFail || FailNextWrites > 0)
        {
            FaultsInjected++;
            FailNextWrites = Math.Max(0, FailNextWrites - 1);
            throw new TimeoutException("injected: the database did not answer");
        }

        Interlocked.Increment(ref _writesStarted);
        IReadOnlyList<FlushResult> results;
        try
        {
            results = await base.ApplyFlushesAsync(flushes, cancellationToken);
        }
        catch
        {
            Interlocked.Increment(ref _writesFailed);
            throw;
        }

        Interlocked.Increment(ref _writesApplied);
        if (fault == Fault.FailAfterApplying)
        {
            FaultsInjected++;
            throw new TimeoutException("injected: the answer was lost after the flush was applied");
        }

        return results;
    }

    public override ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        FailIfReadsFail();
        return base.FindUserAsync(userKey, cancellationToken);
    }

    /// <summary>How many times this torrent was read (or its read failed).</summary>
    public int ReadsOf(InfoHash infoHash) => _torrentReads.TryGetValue(infoHash, out var reads) ? reads : 0;

    private readonly ConcurrentDictionary<InfoHash, int> _torrentReads = new();

    public override ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        _torrentReads.AddOrUpdate(infoHash, 1, static (_, reads) => reads + 1);
        FailIfReadsFail();
        return base.FindTorrentAsync(infoHash, cancellationToken);
    }

    public override ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default)
    {
        FailIfReadsFail();
        return base.GetAllowedClientPrefixesAsync(cancellationToken);
    }

    private void FailIfReadsFail()
    {
        if (ReadsFail)
        {
            Interlocked.Increment(ref _failedReads);
            throw new TimeoutException("injected: the database did not answer a read");
        }
    }
}
