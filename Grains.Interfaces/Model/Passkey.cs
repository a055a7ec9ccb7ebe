using System.Security.Cryptography;
using System.Text;

namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// A user's secret passkey. It never becomes a log line, and announces and scrapes carry it no further than the
/// gateway: past it a user is named by the passkey's SHA-256 digest (<see cref="ToUserKey"/>), and <see cref="ToString"/> is redacted, so Orleans'
/// own messages (timeouts, failed activations) cannot print it either.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.Passkey")]
public readonly record struct Passkey([property: Id(0)] string Value)
{
    /// <summary>The name of the user everywhere past the gateway, and the store's index: the passkey's SHA-256 digest.</summary>
    public UserKey ToUserKey() => UserKeyOf(Value);

    /// <summary>The user key of a passkey given as text.</summary>
    public static UserKey UserKeyOf(ReadOnlySpan<char> passkey)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(passkey.Length)];
        var length = Encoding.UTF8.GetBytes(passkey, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        return UserKey.Read(digest);
    }

    public override string ToString() => "passkey(redacted)";
}
