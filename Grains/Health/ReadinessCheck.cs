namespace Chihaya.Orleans.Grains.Health;

/// <summary>One condition a process needs before it should be sent traffic, e.g. "the database answers".</summary>
public interface IReadinessCheck
{
    /// <summary>The check's name in the readiness report (<c>cluster</c>, <c>database</c>, ...).</summary>
    string Name { get; }

    /// <summary>Whether the condition holds now, with a sentence for the operator either way. Never throws.</summary>
    Task<CheckResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>What one check found: <paramref name="Ok"/> and a sentence that says what is wrong, or what is right.</summary>
public sealed record CheckResult(bool Ok, string Detail)
{
    public static CheckResult Pass(string detail) => new(true, detail);

    public static CheckResult Fail(string detail) => new(false, detail);
}
