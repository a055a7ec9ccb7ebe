using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// The failed first reads of this silo's swarms (a swarm's read of its torrent and its claim), logged with their
/// exception at most once every <see cref="FailureLogThrottle.Every"/>, as the user directory logs its reads.
/// </summary>
internal sealed partial class TorrentReadFailureLog(TimeProvider time, ILogger<TorrentReadFailureLog> logger)
{
    private readonly FailureLogThrottle _throttle = new();

    public void Failed(Exception exception)
    {
        if (_throttle.Count(time, out var failures))
        {
            Log.ReadFailed(logger, exception, failures);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Reading torrents from the site failed ({Failures} reads since the last such line); each swarm not read answers unavailable and reads again at its next use")]
        public static partial void ReadFailed(ILogger logger, Exception exception, long failures);
    }
}
