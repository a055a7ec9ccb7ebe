namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>A peer's self-chosen 20-byte id; arbitrary binary, never text.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.PeerId")]
public readonly record struct PeerId([property: Id(0)] Bytes20 Value)
{
    /// <summary>Reads exactly 20 raw bytes.</summary>
    public static PeerId Read(ReadOnlySpan<byte> bytes) => new(Bytes20.Read(bytes));

    public override string ToString() => Value.ToHex();
}
