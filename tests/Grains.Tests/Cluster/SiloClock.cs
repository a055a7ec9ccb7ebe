using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>A test silo's fake clock, moved on as time would pass for its housekeeping.</summary>
internal static class SiloClock
{
    /// <summary>Moves the clock on and waits until the silo's swarm sweeper has finished a tick that read the new time.</summary>
    public static async Task TickAsync(FakeTimeProvider clock, IServiceProvider silo, TimeSpan step)
    {
        var sweeper = silo.GetRequiredService<SwarmSweeper>();
        clock.Advance(step);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (await Eventually.ValueAsync(() => Task.FromResult(sweeper.SweptUpTo >= now), static swept => swept, TimeSpan.FromSeconds(10)))
        {
            return;
        }

        // Orleans times its calls by the silo's clock too, and a jump of a peer timeout times out every call in flight
        // (its membership reads among them, logged as "Response did not arrive on time"). Once in a CI run a tick then
        // waited on a call that no later step of the clock came to time out. A silo's clock never stands still, so the
        // test moves it past the response timeout (Orleans' default 30 s here), well inside every margin the tests
        // leave (two prune intervals), as time would pass.
        clock.Advance(TimeSpan.FromSeconds(31));
        await Eventually.TrueAsync(
            () => Task.FromResult(sweeper.SweptUpTo >= now),
            "the swarm sweeper finished a tick at the new time, even after the clock moved past Orleans' response timeout");
    }
}
