namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// Traffic in bytes, raw (as clients reported it) and credited (after multipliers). The two are kept
/// apart so the site can show both and recompute credit when a rule changes.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.Traffic")]
public readonly record struct Traffic(
    [property: Id(0)] long RawUploaded,
    [property: Id(1)] long RawDownloaded,
    [property: Id(2)] long CreditedUploaded,
    [property: Id(3)] long CreditedDownloaded)
{
    /// <summary>True when every figure is zero.</summary>
    public bool IsZero => RawUploaded == 0 && RawDownloaded == 0 && CreditedUploaded == 0 && CreditedDownloaded == 0;

    /// <summary>Sums that stop at <see cref="long.MaxValue"/>: a client lying about its totals must not wrap anyone's statistics negative.</summary>
    public static Traffic operator +(Traffic a, Traffic b) => new(
        SaturatingAdd(a.RawUploaded, b.RawUploaded),
        SaturatingAdd(a.RawDownloaded, b.RawDownloaded),
        SaturatingAdd(a.CreditedUploaded, b.CreditedUploaded),
        SaturatingAdd(a.CreditedDownloaded, b.CreditedDownloaded));

    private static long SaturatingAdd(long a, long b)
    {
        var sum = unchecked(a + b);
        return ((a ^ sum) & (b ^ sum)) < 0 ? (a < 0 ? long.MinValue : long.MaxValue) : sum;
    }
}
