using System.Data.Common;
using System.Diagnostics;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>
/// Writes the flushes of all of a silo's swarms in few transactions: flushes that arrive while a write runs go
/// together in the next one. One per silo, so the database sees a few writes per interval, not one per swarm. Failed
/// writes are logged here, one line per batch taken from the queue (also when a refused batch was split and its parts
/// failed one by one): while the database is away a silo's every swarm fails each interval, and a line per swarm would
/// be thousands of stack traces a second.
/// </summary>
internal sealed partial class SwarmFlushWriter(ISiteStore store, SiloMetrics? metrics = null, ILogger<SwarmFlushWriter>? logger = null)
{
    /// <summary>Bounds one transaction, so a silo holding many swarms never builds one huge statement.</summary>
    public const int MaxFlushesPerWrite = 512;

    /// <summary>
    /// Writes at once when more flushes wait than one write takes (a shutdown flushing every swarm): they touch
    /// different swarms, and every writer locks users in one order, so they cannot deadlock.
    /// </summary>
    public const int MaxConcurrentWrites = 4;

    private readonly Lock _gate = new();
    private readonly Queue<(SwarmFlush Flush, TaskCompletionSource<FlushResult> Done)> _waiting = new();
    private int _writers;

    /// <summary>Completes when the flush is applied or fenced; faults when the write failed (the flush may be resent unchanged).</summary>
    public Task<FlushResult> WriteAsync(SwarmFlush flush)
    {
        var done = new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Enqueue((flush, done));
            var needed = _writers == 0 || (_writers < MaxConcurrentWrites && _waiting.Count > MaxFlushesPerWrite * _writers);
            if (!needed)
            {
                return done.Task;
            }

            _writers++;
        }

        // On the thread pool, not the calling grain's scheduler: the loop serves every swarm of the silo.
        _ = Task.Run(WriteWaitingAsync);
        return done.Task;
    }

    private async Task WriteWaitingAsync()
    {
        while (true)
        {
            var batch = new List<(SwarmFlush Flush, TaskCompletionSource<FlushResult> Done)>();
            lock (_gate)
            {
                while (batch.Count < MaxFlushesPerWrite && _waiting.TryDequeue(out var next))
                {
                    batch.Add(next);
                }

                if (batch.Count == 0)
                {
                    _writers--;
                    return;
                }
            }

            var failed = await WriteBatchAsync(batch);
            if (failed.Count > 0)
            {
                // Logged before the swarms hear of it, so the line is there by the time anything reacts to the failure.
                Log.WriteFailed(logger ?? NullLogger<SwarmFlushWriter>.Instance, failed[0].Failure, failed.Count, batch.Count);
                foreach (var (done, failure) in failed)
                {
                    done.SetException(failure);
                }
            }
        }
    }

    /// <summary>
    /// Writes the batch in one transaction. When the database refuses it (an error that is no outage: a flush whose
    /// data it rejects), each half is written on its own, down to single flushes, so a flush refused every time fails
    /// alone instead of holding every swarm of the silo back. An outage or a timeout fails the batch as it is: its
    /// flushes are resent next interval.
    /// </summary>
    /// <returns>The flushes that failed, each with its failure, for the caller to log once and then answer.</returns>
    private async Task<List<(TaskCompletionSource<FlushResult> Done, Exception Failure)>> WriteBatchAsync(
        List<(SwarmFlush Flush, TaskCompletionSource<FlushResult> Done)> batch)
    {
        var startedAt = Stopwatch.GetTimestamp();
        try
        {
            var results = await store.ApplyFlushesAsync([.. batch.Select(item => item.Flush)]);
            metrics?.FlushWritten(Stopwatch.GetElapsedTime(startedAt));
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Done.SetResult(results[i]);
            }

            return [];
        }
        catch (DbException refused) when (!refused.IsTransient && batch.Count > 1)
        {
            metrics?.FlushWriteFailed(Stopwatch.GetElapsedTime(startedAt));
            var half = batch.Count / 2;
            var failed = await WriteBatchAsync(batch[..half]);
            failed.AddRange(await WriteBatchAsync(batch[half..]));
            return failed;
        }
        catch (Exception exception)
        {
            metrics?.FlushWriteFailed(Stopwatch.GetElapsedTime(startedAt));
            return [.. batch.Select(item => (item.Done, exception))];
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writing the statistics of {Failed} of {Swarms} swarms failed; each resends the same flush at its next interval, and the site applies it once")]
        public static partial void WriteFailed(ILogger logger, Exception exception, int failed, int swarms);
    }
}
