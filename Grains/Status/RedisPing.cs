using System.Diagnostics;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using StackExchange.Redis;

namespace Chihaya.Orleans.Grains.Status;

/// <summary>
/// For the status page only (not a readiness condition: silos keep serving while Redis is away, they only cannot change
/// membership): whether the membership's Redis answers a PING, through a connection of its own made on first use.
/// </summary>
internal sealed class RedisPing(TrackerClusterOptions cluster) : IAsyncDisposable
{
    public const string Name = "redis";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private ConnectionMultiplexer? _redis;

    public async Task<StatusCheck> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var redis = await ConnectAsync(cancellationToken);
            var started = Stopwatch.GetTimestamp();
            await redis.GetDatabase().PingAsync().WaitAsync(Timeout, cancellationToken);
            return new StatusCheck(true, $"Redis answers PING in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.0} ms");
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // StackExchange.Redis leaves passwords out of its messages.
            return new StatusCheck(false, $"Redis does not answer: {exception.GetType().Name}: {exception.Message}");
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(CancellationToken cancellationToken)
    {
        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_redis is null)
            {
                var options = cluster.ReadRedisConfiguration();
                // Keep trying in the background when Redis is down at first; each check then says it does not answer.
                options.AbortOnConnectFail = false;
                options.ConnectTimeout = (int)Timeout.TotalMilliseconds;
                _redis = await ConnectionMultiplexer.ConnectAsync(options);
            }

            return _redis;
        }
        finally
        {
            _connecting.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
