using System.Data.Common;
using System.Net.Sockets;
using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// What a database away, failing over or overloaded throws, and how a request waiting on such a read is told: as a
/// <see cref="SiteUnavailableException"/>, which the gateway answers at once with one log line. Not a
/// <see cref="TimeoutException"/>, which the gateway takes for a silo gone and calls again; and not the store's own
/// exception, which Orleans cannot always carry.
/// </summary>
internal static class SiteOutage
{
    /// <summary>
    /// True for an outage: a refused or slow read, a timeout, a broken connection, or any error of the database (its
    /// SQL state is not looked at, so a schema the store does not expect is answered as an outage too, and shows in
    /// the silo's throttled read-failure lines). Anything else (a bug) reaches the gateway as the error it is, logged
    /// with its stack trace.
    /// </summary>
    public static bool Is(Exception exception) =>
        exception is SiteUnavailableException or DbException or TimeoutException or IOException or SocketException;

    /// <summary>The outage as a request is answered it; <paramref name="read"/> names what failed ("the user's read").</summary>
    public static SiteUnavailableException Unavailable(string read, Exception exception) =>
        exception as SiteUnavailableException ?? new SiteUnavailableException($"the site's database failed {read}: {Describe(exception)}");

    /// <summary>The messages of the exception and those inside it ("Failed to connect to …: Connection refused").</summary>
    public static string Describe(Exception exception)
    {
        var messages = new List<string>();
        for (var inner = exception; inner is not null && messages.Count < 4; inner = inner.InnerException)
        {
            if (!messages.Contains(inner.Message))
            {
                messages.Add(inner.Message);
            }
        }

        return string.Join(": ", messages);
    }
}
