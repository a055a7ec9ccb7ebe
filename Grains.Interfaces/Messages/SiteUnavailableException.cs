namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// The site's database did not answer a read the announce needs (its user's) in time: a failover, or the database
/// away. The gateway answers it at once as unavailable rather than calling again, since every silo waits on the same
/// database.
/// </summary>
[GenerateSerializer, Alias("Chihaya.SiteUnavailableException")]
public sealed class SiteUnavailableException : Exception
{
    public SiteUnavailableException()
    {
    }

    public SiteUnavailableException(string message)
        : base(message)
    {
    }

    public SiteUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
