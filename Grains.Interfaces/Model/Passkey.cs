using System.Security.Cryptography;
using System.Text;

namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// A user's secret passkey. It never becomes a grain key or a log line: grains are keyed by its
/// SHA-256 digest (<see cref="ToUserKey"/>), and <see cref="ToString"/> is redacted, so Orleans'
/// own messages (timeouts, failed activations) cannot print it either.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.Passkey")]
public readonly record struct Passkey([property: Id(0)] string Value)
{
    /// <summary>The user grain's key and the store's index: 64 lower-case hex characters of SHA-256.</summary>
    public string ToUserKey() => UserKeyOf(Value);

    /// <summary>The user key of a passkey given as text.</summary>
    public static string UserKeyOf(ReadOnlySpan<char> passkey)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(passkey.Length)];
        var length = Encoding.UTF8.GetBytes(passkey, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        return Convert.ToHexStringLower(digest);
    }

    public override string ToString() => "passkey(redacted)";
}
