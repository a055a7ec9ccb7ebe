using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// This silo's swarms' reads of their torrents that failed for the database being away or slow, logged with their
/// exception at most once every <see cref="FailureLogThrottle.Every"/> for each kind, as the user directory logs its
/// reads: first reads (a swarm's read of its torrent and its claim), and re-reads (periodic, or for a change of the
/// site's, which are retried within seconds). While the database is away every swarm's re-reads fail, thousands a
/// minute after a catch-up.
/// </summary>
internal sealed partial class TorrentReadFailureLog(TimeProvider time, ILogger<TorrentReadFailureLog> logger)
{
    private readonly FailureLogThrottle _firstReads = new();
    private readonly FailureLogThrottle _reReads = new();

    public void Failed(Exception exception)
    {
        if (_firstReads.Count(time, out var failures))
        {
            Log.ReadFailed(logger, exception, failures);
        }
    }

    public void ReReadFailed(Exception exception)
    {
        if (_reReads.Count(time, out var failures))
        {
            Log.ReReadFailed(logger, exception, failures);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Reading torrents from the site failed ({Failures} reads since the last such line); each swarm not read answers unavailable and reads again at its next use")]
        public static partial void ReadFailed(ILogger logger, Exception exception, long failures);

        [LoggerMessage(2, LogLevel.Warning, "Re-reading torrents from the site failed ({Failures} re-reads since the last such line); each swarm keeps what it had and tries again, within seconds for a change of the site's")]
        public static partial void ReReadFailed(ILogger logger, Exception exception, long failures);
    }
}
