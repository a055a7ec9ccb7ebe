namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>A torrent's 20-byte SHA-1 info hash. Its grain key is the lower-case hex form.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.InfoHash")]
public readonly record struct InfoHash([property: Id(0)] Bytes20 Value)
{
    /// <summary>Reads exactly 20 raw bytes.</summary>
    public static InfoHash Read(ReadOnlySpan<byte> bytes) => new(Bytes20.Read(bytes));

    /// <summary>Parses 40 hex characters of either case.</summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out InfoHash hash)
    {
        var ok = Bytes20.TryParseHex(hex, out var value);
        hash = new InfoHash(value);
        return ok;
    }

    /// <summary>The grain key: 40 lower-case hex characters.</summary>
    public string ToGrainKey() => Value.ToHex();

    /// <summary>The grain key as UTF-8 bytes (what an Orleans grain id holds), made without a string.</summary>
    public byte[] ToGrainKeyUtf8()
    {
        Span<byte> raw = stackalloc byte[20];
        Value.CopyTo(raw);
        var key = new byte[40];
        Convert.TryToHexStringLower(raw, key, out _);
        return key;
    }

    public override string ToString() => Value.ToHex();
}
