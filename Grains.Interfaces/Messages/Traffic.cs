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

    public static Traffic operator +(Traffic a, Traffic b) => new(
        a.RawUploaded + b.RawUploaded,
        a.RawDownloaded + b.RawDownloaded,
        a.CreditedUploaded + b.CreditedUploaded,
        a.CreditedDownloaded + b.CreditedDownloaded);
}
