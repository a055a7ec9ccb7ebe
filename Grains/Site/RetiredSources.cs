using Microsoft.Extensions.Logging;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>How long a site store keeps remembering a batch source after its owner retired it, and how it forgets.</summary>
internal static partial class RetiredSources
{
    /// <summary>
    /// A retired source's last sequence is kept this long, so a send of it that was still on its way when it was
    /// retired (a delayed statement, a duplicate activation during a membership change: seconds to minutes) is
    /// still dropped as a duplicate. A day is far beyond either.
    /// </summary>
    public static readonly TimeSpan Grace = TimeSpan.FromDays(1);

    /// <summary>
    /// The most sources one retirement forgets. More than one, so forgetting outpaces retiring and a backlog
    /// (after a quiet spell, or a long outage) drains; bounded, so no single call does unbounded work.
    /// </summary>
    public const int ForgetAtOnce = 100;

    /// <summary>
    /// Tells the site that <paramref name="source"/> will send nothing more, so its row can go in time. A failure
    /// only leaves the row for good (one row too many, exactly-once unharmed), so it is logged, not thrown.
    /// </summary>
    public static async Task TryRetireAsync(ISiteStore store, string source, ILogger logger)
    {
        try
        {
            await store.RetireSourceAsync(source);
        }
        catch (Exception exception)
        {
            SourceNotRetired(logger, exception, source);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Statistics source {Source} was not retired; the site keeps its row")]
    private static partial void SourceNotRetired(ILogger logger, Exception exception, string source);
}
