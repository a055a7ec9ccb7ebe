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

    /// <summary>True when neither factor is negative.</summary>
    public bool IsValid => Upload >= 0 && Download >= 0;
}
