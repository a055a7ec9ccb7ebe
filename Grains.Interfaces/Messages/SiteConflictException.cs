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
}
