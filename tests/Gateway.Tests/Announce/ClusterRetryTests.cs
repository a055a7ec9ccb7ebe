using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Gateway.Tests.Announce;

/// <summary>The gateway calls the cluster again while a silo is gone, for a bounded time, and never for a call's own error.</summary>
public sealed class ClusterRetryTests
{
    private readonly SteppingClock _clock = new();
    private readonly ClusterRetry _retry;

    private readonly DateTimeOffset _start;

    public ClusterRetryTests()
    {
        _start = _clock.GetUtcNow();
        _retry = new ClusterRetry(
            new StaticGatewayOptions(new GatewayOptions { ClusterRetryFor = TimeSpan.FromSeconds(10) }),
            _clock,
            NullLogger<ClusterRetry>.Instance);
    }

    [Fact]
    public async Task Call_FailingWhileASiloIsGone_IsMadeAgainUntilItSucceeds()
    {
        var calls = 0;
        var call = _retry.CallAsync(() => ++calls switch
        {
            1 => throw new SiloUnavailableException("killed"),
            2 => throw new TimeoutException("no answer: the silo died mid-call"),
            _ => ValueTask.FromResult(calls),
        });

        var result = await RunClockUntilDoneAsync(call.AsTask());

        Assert.Equal(3, result);
    }

    [Fact]
    public async Task Result_AskingForAnotherTry_IsRetried_AndTheLastResultReturnedWhenTimeIsUp()
    {
        var calls = 0;
        var lastCallAt = _start;
        var call = _retry.CallAsync(
            () =>
            {
                lastCallAt = _clock.GetUtcNow();
                return ValueTask.FromResult(++calls);
            },
            static _ => true);

        var result = await RunClockUntilDoneAsync(call.AsTask());

        Assert.True(result > 3, $"only {result} calls");
        Assert.InRange(lastCallAt - _start, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task SiloGoneForLongerThanTheRetryTime_FailsWithItsError()
    {
        var lastCallAt = _start;
        var call = _retry.CallAsync<int>(() =>
        {
            lastCallAt = _clock.GetUtcNow();
            throw new SiloUnavailableException("still gone");
        });

        await Assert.ThrowsAsync<SiloUnavailableException>(() => RunClockUntilDoneAsync(call.AsTask()));
        Assert.InRange(lastCallAt - _start, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task CallsOwnError_IsNotRetried()
    {
        var calls = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await _retry.CallAsync<int>(() =>
        {
            calls++;
            throw new InvalidOperationException("a bug, not a lost silo");
        }));

        Assert.Equal(1, calls);
    }

    /// <summary>Moves the fake clock on in small steps, only while the retrying call waits, until it has finished.</summary>
    private async Task<T> RunClockUntilDoneAsync<T>(Task<T> call)
    {
        await Eventually.TrueAsync(
            () =>
            {
                if (_clock.SomeoneWaits)
                {
                    _clock.Advance(TimeSpan.FromMilliseconds(50));
                }

                return Task.FromResult(call.IsCompleted);
            },
            "the retrying call finished",
            pollDelay: TimeSpan.FromMilliseconds(1));
        return await call;
    }

    /// <summary>A fake clock that knows whether anyone waits on it, so a test advances it only then.</summary>
    private sealed class SteppingClock : FakeTimeProvider
    {
        private int _waiting;

        public bool SomeoneWaits => Volatile.Read(ref _waiting) > 0;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _waiting);
            return base.CreateTimer(
                s =>
                {
                    Interlocked.Decrement(ref _waiting);
                    callback(s);
                },
                state,
                dueTime,
                period);
        }
    }
}
