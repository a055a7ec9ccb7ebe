namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// A change the site's keys refuse: a passkey or an info hash that already belongs to another id. The admin API answers
/// it with 409 and this message; the site decides which of the two it meant (remove or change the other first).
/// </summary>
[GenerateSerializer, Alias("Chihaya.SiteConflictException")]
public sealed class SiteConflictException : Exception
{
    public SiteConflictException()
    {
    }

    public SiteConflictException(string message)
        : base(message)
    {
    }

    public SiteConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The passkey is another user's; <paramref name="constraint"/> names the database's key that said so, if any.</summary>
    public static SiteConflictException PasskeyOfAnotherUser(long userId, string? constraint = null) =>
        new($"the passkey belongs to another user than id {userId}: change or remove that user's passkey first{Naming(constraint)}");

    /// <summary>The info hash is another torrent's; <paramref name="constraint"/> names the database's key that said so, if any.</summary>
    public static SiteConflictException InfoHashOfAnotherTorrent(long torrentId, string? constraint = null) =>
        new($"the info hash belongs to another torrent than id {torrentId}: remove that torrent first{Naming(constraint)}");

    private static string Naming(string? constraint) => constraint is null ? "" : $" ({constraint})";
}
