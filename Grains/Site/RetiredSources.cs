namespace Chihaya.Orleans.Grains.Site;

/// <summary>How long a site store keeps remembering a batch source after its owner retired it, and how it forgets.</summary>
internal static class RetiredSources
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
}
