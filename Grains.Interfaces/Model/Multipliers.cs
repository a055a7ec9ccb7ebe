namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// Factors applied to raw traffic before it is credited. Freeleech is a download factor of 0,
/// double upload an upload factor of 2. Decimal, so that 1.1 × 0.5 is exact and credit is reproducible.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.Multipliers")]
public readonly record struct Multipliers(
    [property: Id(0)] decimal Upload,
    [property: Id(1)] decimal Download)
{
    /// <summary>Traffic counted as reported.</summary>
    public static Multipliers Neutral { get; } = new(1m, 1m);

    /// <summary>Both factors applied one after the other (user × torrent).</summary>
    public Multipliers Times(Multipliers other) => new(Upload * other.Upload, Download * other.Download);

    /// <summary>The largest factor a site may set; anything above is a typo, and would risk overflow.</summary>
    public const decimal Max = 100m;

    /// <summary>True when both factors are between 0 and <see cref="Max"/>.</summary>
    public bool IsValid => Upload is >= 0 and <= Max && Download is >= 0 and <= Max;
}
