namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>What a passkey may look like: checked before it reaches a grain key, and in a seed file before it is loaded.</summary>
public static class Passkeys
{
    public const int MinLength = 8;
    public const int MaxLength = 64;

    /// <summary>8 to 64 ASCII letters and digits: sites use hex or base62 passkeys.</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> passkey) =>
        passkey.Length is >= MinLength and <= MaxLength && !passkey.ContainsAnyExcept(Alphabet);

    private static readonly System.Buffers.SearchValues<char> Alphabet =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
}
