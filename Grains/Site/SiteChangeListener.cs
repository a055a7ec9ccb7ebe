using Chihaya.Orleans.Grains.Interfaces;
using System.Diagnostics;
using System.Globalization;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// Every silo LISTENs to the site database's change notices (<c>deploy/sql/003_change_notifications.sql</c>)
/// and has what caches the change reload it, so a change made by the site alone takes effect within moments: a user
/// in this silo's <see cref="UserDirectory"/>, a torrent grain active on this silo (see <see cref="LocalActivations"/>). After a lost connection
/// it reconnects and re-reads everything this silo holds (the client list, its users and its swarms' torrents): notices
/// are lost only while no one listens. Cached users and torrents also re-read themselves every
/// <see cref="SiteOptions.RefreshInterval"/>, a last safety net.
/// </summary>
internal sealed partial class SiteChangeListener(
    NpgsqlDataSource dataSource,
    IGrainFactory grains,
    ClientAllowList clients,
    LocalActivations activations,
    UserDirectory users,
    SiloMetrics metrics,
    TimeProvider time,
    ILogger<SiteChangeListener> logger) : BackgroundService
{
    public const string Channel = "chihaya_site_changes";

    /// <summary>How often a silo sends itself a probe notice, to measure how long notices take to arrive.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(10);

    private const string UserNotice = "user:";
    private const string TorrentNotice = "torrent:";
    // Every torrent, or every user, may have changed: the site emptied a table (TRUNCATE fires no row trigger).
    private const string AllTorrentsNotice = "torrents";
    private const string AllUsersNotice = "users";

    // 'probe:<this process's id>:<Stopwatch timestamp>': other silos (and older versions, which look the payload up
    // among their torrent grains and find nothing) ignore it; only its sender can time it.
    private readonly string _probePrefix = $"probe:{Guid.NewGuid():N}:";

    /// <summary>How often the client list is re-read whatever the notices say: a safety net, as users' and torrents' re-reads are.</summary>
    public static readonly TimeSpan ClientListRefresh = TimeSpan.FromMinutes(1);

    // A re-read of the client list that a notice asked for failed: the listening loop tries again when it next wakes.
    private volatile bool _clientsUnread;

    // A bulk change on the site (site-wide freeleech) must not turn into thousands of queries at once.
    private readonly SemaphoreSlim _refreshing = new(8, 8);
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Done once the silo first listens and has re-read what it held then: from there on, no catching up of its own
    /// reads the site (for tests that count what an announce costs).
    /// </summary>
    public Task Listening => _listening.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = ProbeAsync(stoppingToken);
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, notice) => Dispatch(notice.Payload);
                await using (var listen = new NpgsqlCommand($"listen {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything may have changed while no one was listening.
                await clients.ReloadAsync(stoppingToken);
                Log.Listening(logger);
                _ = RefreshEverythingHeldAsync();
                delay = TimeSpan.FromSeconds(1);
                var clientsReadAt = time.GetTimestamp();
                while (true)
                {
                    if (!await connection.WaitAsync(TimeSpan.FromSeconds(30), stoppingToken))
                    {
                        // Quiet for a while: prove the connection is alive (a half-open one would never deliver again).
                        await using var ping = new NpgsqlCommand("select 1", connection);
                        await ping.ExecuteScalarAsync(stoppingToken);
                    }

                    // The client list has no re-read of its own: every ClientListRefresh, and soon after a re-read its
                    // notice asked for failed. (Probes wake this loop every few seconds, so it is never quiet for long.)
                    if (_clientsUnread || time.GetElapsedTime(clientsReadAt) >= ClientListRefresh)
                    {
                        clientsReadAt = time.GetTimestamp();
                        await ReloadClientsAsync(stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                Log.ConnectionLost(logger, exception, delay);
                await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    /// <summary>
    /// Re-reads every user and torrent this silo holds, a few at a time; in the background, so notices keep flowing. A
    /// read that fails stops none of the others: such a user is read again at its next use, such a torrent within seconds.
    /// </summary>
    private async Task RefreshEverythingHeldAsync()
    {
        try
        {
            await RefreshUsersHeldAsync();
            await RefreshTorrentsHeldAsync();
        }
        finally
        {
            _listening.TrySetResult();
        }
    }

    /// <summary>Re-reads every user this silo holds; one whose read fails is read again at its next use.</summary>
    private async Task RefreshUsersHeldAsync()
    {
        try
        {
            await users.ReloadAllAsync();
        }
        catch (Exception exception)
        {
            Log.RefreshFailed(logger, exception);
        }
    }

    /// <summary>Re-reads every torrent this silo holds, a few at a time; one whose read fails tries again within seconds.</summary>
    private async Task RefreshTorrentsHeldAsync()
    {
        var failed = 0;
        await Parallel.ForEachAsync(
            activations.Torrents(),
            new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (infoHash, _) =>
            {
                try
                {
                    await grains.GetGrain<ITorrentGrain>(infoHash.ToGrainKey()).Refresh();
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failed);
                }
            });
        if (failed > 0)
        {
            Log.TorrentsNotRefreshed(logger, failed);
        }
    }

    private async Task ReloadClientsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            _clientsUnread = false;
            await clients.ReloadAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _clientsUnread = true;
            Log.RefreshFailed(logger, exception);
        }
    }

    /// <summary>Sends a probe notice every <see cref="ProbeInterval"/> through an ordinary connection, as the site's triggers do.</summary>
    private async Task ProbeAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ProbeInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await using var probe = dataSource.CreateCommand("select pg_notify($1, $2)");
                    probe.Parameters.Add(new NpgsqlParameter { Value = Channel });
                    probe.Parameters.Add(new NpgsqlParameter { Value = _probePrefix + Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) });
                    await probe.ExecuteNonQueryAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or System.Net.Sockets.SocketException)
                {
                    // The database is away: the listener says so; the probe tries again next interval.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Dispatch(string payload)
    {
        if (payload.StartsWith(_probePrefix, StringComparison.Ordinal))
        {
            if (long.TryParse(payload.AsSpan(_probePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sentAt))
            {
                metrics.NoticeArrived(Stopwatch.GetElapsedTime(sentAt));
            }

            return;
        }

        // Fire and forget on purpose: a re-read that fails is made again (a user's at its next use, a torrent's and the
        // client list's within seconds), so no notice waits for another's.
        _ = DispatchAsync(payload);
    }

    private async Task DispatchAsync(string payload)
    {
        // Not one at a time with the other notices: a silo's every swarm or user takes a while to re-read.
        if (payload == AllTorrentsNotice)
        {
            await RefreshTorrentsHeldAsync();
            return;
        }

        if (payload == AllUsersNotice)
        {
            await RefreshUsersHeldAsync();
            return;
        }

        var user = default(UserKey);
        var torrent = default(InfoHash);
        var relevant = payload switch
        {
            "clients" => true,
            _ when payload.StartsWith(UserNotice, StringComparison.Ordinal) => UserKey.TryParseHex(payload.AsSpan(UserNotice.Length), out user) && users.Holds(user),
            _ when payload.StartsWith(TorrentNotice, StringComparison.Ordinal) => InfoHash.TryParseHex(payload.AsSpan(TorrentNotice.Length), out torrent) && activations.Contains(torrent),
            _ => false,
        };
        if (!relevant)
        {
            return;
        }

        await _refreshing.WaitAsync();
        try
        {
            switch (payload.Split(':', 2))
            {
                case ["user", _]:
                    await users.ReloadAsync(user);
                    break;
                case ["torrent", _]:
                    await grains.GetGrain<ITorrentGrain>(torrent.ToGrainKey()).Refresh();
                    break;
                case ["clients"]:
                    await ReloadClientsAsync();
                    break;
                default:
                    Log.UnknownNotice(logger, payload.Length);
                    break;
            }
        }
        catch (Exception exception)
        {
            Log.RefreshFailed(logger, exception);
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Listening for site changes")]
        public static partial void Listening(ILogger logger);

        [LoggerMessage(2, LogLevel.Warning, "Site change listener lost its connection; reconnecting in {Delay}")]
        public static partial void ConnectionLost(ILogger logger, Exception exception, TimeSpan delay);

        [LoggerMessage(3, LogLevel.Warning, "A site change could not be read; a user is read again at its next use, a torrent and the client list within seconds")]
        public static partial void RefreshFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Warning, "Ignored a site change notice of unknown form ({Length} characters)")]
        public static partial void UnknownNotice(ILogger logger, int length);

        [LoggerMessage(5, LogLevel.Warning, "{Count} torrents could not be re-read after the site change listener reconnected; each tries again within seconds")]
        public static partial void TorrentsNotRefreshed(ILogger logger, int count);
    }
}
