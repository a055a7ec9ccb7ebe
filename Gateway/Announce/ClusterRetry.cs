using System.Runtime.CompilerServices;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Messaging;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>
/// Calls the cluster again when a call failed because a silo died or was shutting down, or the swarm's activation
/// had lost it to a newer one, for up to <see cref="GatewayOptions.ClusterRetryFor"/>. Safe because announces and
/// scrapes are idempotent: an announce carries the client's totals, so one applied twice credits nothing more,
/// and an activation that died with the first try forgot it.
/// </summary>
internal sealed partial class ClusterRetry(IOptionsMonitor<GatewayOptions> options, TimeProvider time, ILogger<ClusterRetry> logger)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);

    /// <summary>Runs <paramref name="call"/> until it succeeds with a result <paramref name="tryAgain"/> accepts, or the time is up.</summary>
    public ValueTask<T> CallAsync<T>(Func<ValueTask<T>> call, Func<T, bool>? tryAgain = null) =>
        CallAsync(call, static call => call(), tryAgain);

    /// <summary>
    /// Runs <paramref name="call"/> with <paramref name="state"/> until it succeeds with a result <paramref name="tryAgain"/>
    /// accepts, or the time is up. For the announce path: static delegates and a pooled state machine, so a call that
    /// succeeds first time allocates nothing here.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<T> CallAsync<TState, T>(TState state, Func<TState, ValueTask<T>> call, Func<T, bool>? tryAgain = null)
    {
        var started = time.GetTimestamp();
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await call(state);
                if (tryAgain is null || !tryAgain(result) || OutOfTime(started, pause))
                {
                    return result;
                }

                Log.Retrying(logger, attempt, "the swarm moved to another activation");
            }
            catch (Exception exception) when (IsSiloGone(exception) && !OutOfTime(started, pause))
            {
                Log.Retrying(logger, attempt, exception.GetType().Name);
            }

            await Task.Delay(pause, time);
            pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
        }
    }

    /// <summary>
    /// Failures that say where the call went is gone or going, not that the call itself is wrong: the silo died or
    /// shut down (the message was rejected or the connection failed), or no answer came (its silo died mid-call).
    /// </summary>
    public static bool IsSiloGone(Exception exception) => exception is SiloUnavailableException
        or OrleansMessageRejectionException
        or ConnectionFailedException
        or TimeoutException;

    private bool OutOfTime(long started, TimeSpan pause) => time.GetElapsedTime(started) + pause > options.CurrentValue.ClusterRetryFor;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Cluster call failed ({Reason}) on attempt {Attempt}; calling again")]
        public static partial void Retrying(ILogger logger, int attempt, string reason);
    }
}
