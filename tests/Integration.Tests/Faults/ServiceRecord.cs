using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Chihaya.Orleans.Integration.Tests.Faults;

/// <summary>
/// What the simulated clients saw of the service: announces accepted and attempts failed (by kind), the spans in
/// which no announce at all was accepted, and a timeline of what the scenario did, on one clock.
/// </summary>
public sealed class ServiceRecord
{
    // A shorter pause between two accepted announces is just the load's own rhythm, not an outage.
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(1);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<TimeSpan> _accepted = new();
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(TimeSpan At, string What)> _timeline = new();
    private int _failed;

    public int Accepted => _accepted.Count;

    public int Failed => _failed;

    public void RecordAccepted() => _accepted.Enqueue(_clock.Elapsed);

    public void RecordFailure(string kind)
    {
        Interlocked.Increment(ref _failed);
        _failures.AddOrUpdate(kind, 1, static (_, count) => count + 1);
    }

    /// <summary>Notes a step of the scenario (a fault injected, healed), to read outages against.</summary>
    public void Mark(string what) => _timeline.Enqueue((_clock.Elapsed, what));

    /// <summary>The longest span without an accepted announce (and when it began), and all spans of a second or more added up.</summary>
    public (TimeSpan Longest, TimeSpan LongestFrom, TimeSpan Total) WithoutService()
    {
        var accepted = _accepted.Order().ToList();
        var (longest, from, total) = (TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
        for (var i = 1; i < accepted.Count; i++)
        {
            var gap = accepted[i] - accepted[i - 1];
            if (gap > longest)
            {
                (longest, from) = (gap, accepted[i - 1]);
            }

            if (gap >= Outage)
            {
                total += gap;
            }
        }

        return (longest, from, total);
    }

    public string FailureKinds => _failures.IsEmpty
        ? "none"
        : string.Join(", ", _failures.OrderByDescending(kind => kind.Value).Select(kind => $"{kind.Value}× {kind.Key}"));

    public string Timeline => string.Join(", ", _timeline.Select(step => $"{Seconds(step.At)} {step.What}"));

    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
}
