using Microsoft.Extensions.Hosting;

namespace Chihaya.Orleans.Grains.Health;

/// <summary>
/// Runs this process's readiness checks together and reports them, for <c>/readyz</c>. A report is reused for
/// <see cref="ReuseFor"/>, and callers arriving while one is being made share it: load balancers, Kubernetes and
/// operators' scripts probe every few seconds from several places, and a probe must not become load of its own.
/// </summary>
public sealed class ReadinessProbe(IEnumerable<IReadinessCheck> checks, IHostApplicationLifetime lifetime, TimeProvider time)
{
    /// <summary>How long a report answers later probes.</summary>
    public static readonly TimeSpan ReuseFor = TimeSpan.FromSeconds(1);

    /// <summary>How long one check may take before it counts as failed: a probe answers within this, whatever hangs.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(2);

    private readonly IReadinessCheck[] _checks = [.. checks];
    private readonly Lock _lock = new();
    private Task<ReadinessReport>? _current;
    private long _currentMadeAt;

    public Task<ReadinessReport> CheckAsync()
    {
        lock (_lock)
        {
            if (_current is null || (_current.IsCompleted && time.GetElapsedTime(_currentMadeAt) >= ReuseFor))
            {
                _currentMadeAt = time.GetTimestamp();
                _current = MakeReportAsync();
            }

            return _current;
        }
    }

    private async Task<ReadinessReport> MakeReportAsync()
    {
        var results = await Task.WhenAll(_checks.Select(RunAsync));
        var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
        var entries = results.ToList();
        // While stopping, a process finishes what it has but should get no new work: say so first.
        if (stopping)
        {
            entries.Insert(0, new ReadinessEntry("lifecycle", false, "stopping: finishing work in flight, taking no new work"));
        }

        return new ReadinessReport(entries.All(entry => entry.Ok), entries);
    }

    private async Task<ReadinessEntry> RunAsync(IReadinessCheck check)
    {
        using var timeout = new CancellationTokenSource(CheckTimeout, time);
        try
        {
            var result = await check.CheckAsync(timeout.Token).WaitAsync(CheckTimeout, time);
            return new ReadinessEntry(check.Name, result.Ok, result.Detail);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            return new ReadinessEntry(check.Name, false, $"no answer within {CheckTimeout.TotalSeconds:0} s");
        }
        catch (Exception exception)
        {
            return new ReadinessEntry(check.Name, false, $"{exception.GetType().Name}: {exception.Message}");
        }
    }
}

/// <summary>The body of <c>/readyz</c>: ready only when every check passes, and what each found.</summary>
public sealed record ReadinessReport(bool Ready, IReadOnlyList<ReadinessEntry> Checks)
{
    public string Status => Ready ? "ready" : "not ready";
}

/// <summary>One check's line in the report.</summary>
public sealed record ReadinessEntry(string Name, bool Ok, string Detail);
