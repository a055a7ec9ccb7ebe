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

    /// <summary>The most decimals a factor may have: the site's columns are <c>numeric(12,4)</c>, which would round more.</summary>
    public const int MaxDecimals = 4;

    /// <summary>What a site may set: factors between 0 and <see cref="Max"/>, as the site's columns hold them exactly.</summary>
    public const string ValidRange = "multipliers must be between 0 and 100, with at most 4 decimals";

    /// <summary>
    /// True when both factors are between 0 and <see cref="Max"/> with at most <see cref="MaxDecimals"/> decimals (0.00004
    /// would be stored as 0: freeleech nobody asked for).
    /// </summary>
    public bool IsValid => IsValidFactor(Upload) && IsValidFactor(Download);

    private static bool IsValidFactor(decimal factor) => factor is >= 0 and <= Max && decimal.Round(factor, MaxDecimals) == factor;
}
