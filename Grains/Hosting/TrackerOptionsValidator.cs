using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Rejects tracker settings that would make clients or swarms misbehave, at start rather than later.</summary>
public sealed class TrackerOptionsValidator : IValidateOptions<TrackerOptions>
{
    public ValidateOptionsResult Validate(string? name, TrackerOptions options)
    {
        var failures = new List<string>();
        if (options.AnnounceInterval <= TimeSpan.Zero || options.AnnounceInterval > TimeSpan.FromDays(1))
        {
            failures.Add("Tracker:AnnounceInterval must be positive and up to 1.00:00:00.");
        }

        if (options.MinAnnounceInterval <= TimeSpan.Zero || options.MinAnnounceInterval > options.AnnounceInterval)
        {
            failures.Add("Tracker:MinAnnounceInterval must be positive and at most Tracker:AnnounceInterval.");
        }

        if (options.PeerTimeout <= options.AnnounceInterval)
        {
            failures.Add("Tracker:PeerTimeout must be longer than Tracker:AnnounceInterval, or peers vanish between announces.");
        }

        // Longer would also overflow the timers that run a fraction of it (a .NET timer waits at most 49 days).
        if (options.PeerTimeout > TimeSpan.FromDays(7))
        {
            failures.Add("Tracker:PeerTimeout must be up to 7.00:00:00.");
        }

        if (options.PruneInterval <= TimeSpan.Zero || options.PruneInterval > TimeSpan.FromDays(1))
        {
            failures.Add("Tracker:PruneInterval must be positive and up to 1.00:00:00.");
        }

        if (options.MaxNumWant < 1 || options.DefaultNumWant < 0 || options.DefaultNumWant > options.MaxNumWant)
        {
            failures.Add("Tracker:DefaultNumWant must be between 0 and Tracker:MaxNumWant, which must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
