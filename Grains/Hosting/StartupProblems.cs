using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// Turns what an operator got wrong (a setting that cannot be read, an unknown key, a value out of range, a port
/// already taken) into one line on standard error and exit status 2, before anything starts; a service the program
/// needs that is not ready yet (the database or Redis not answering, the schema not migrated yet) into one line and
/// exit status 3, which a supervisor retries
/// (systemd's unit does not retry 2: the settings must change first). Anything else is a bug: exit status 1 with its
/// stack trace, never an abort.
/// </summary>
public static partial class StartupProblems
{
    /// <summary>The exit status for a start refused because of the configuration or the machine: fix it, then start again.</summary>
    public const int ExitCode = 2;

    /// <summary>The exit status for a start that needs a service not ready yet (the database, Redis, the schema's migration): start again later.</summary>
    public const int UnreachableExitCode = 3;

    /// <summary>The exit status of a program stopped by a failure (a service that failed while running, a bug).</summary>
    public const int FailedExitCode = 1;

    /// <summary>Runs a host program; an operator's mistake becomes one line and <see cref="ExitCode"/>.</summary>
    public static async Task<int> RunAsync(string program, Func<Task> run)
    {
        try
        {
            await run();
            return 0;
        }
        catch (Exception exception) when (Describe(exception) is { } problem)
        {
            Console.Error.WriteLine($"{program}: {problem.Line}");
            return problem.ExitCode;
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"{program}: stopped by an unexpected error: {exception}");
            return FailedExitCode;
        }
    }

    /// <summary>
    /// Runs the host until it stops. A stop because one of its background services failed (the host stops then, and
    /// would exit 0, which a supervisor takes for a clean stop and does not restart) throws <see cref="ServiceFailedException"/>.
    /// </summary>
    public static async Task RunHostAsync(IHost host)
    {
        // What the host's RunAsync does, with a look at its services after the stop and before they are disposed.
        try
        {
            await host.StartAsync();
            await host.WaitForShutdownAsync();
            if (host.Services.GetServices<IHostedService>().OfType<BackgroundService>().FirstOrDefault(service => service.ExecuteTask is { IsFaulted: true }) is { } failed)
            {
                throw new ServiceFailedException(failed.GetType().Name, failed.ExecuteTask!.Exception!.GetBaseException());
            }
        }
        finally
        {
            if (host is IAsyncDisposable asynchronous)
            {
                await asynchronous.DisposeAsync();
            }
            else
            {
                host.Dispose();
            }
        }
    }

    /// <summary>
    /// Binds and validates every options class registered to be checked at start, and refuses ports that another
    /// process holds, before the host starts: a problem found once the host runs would come wrapped in the
    /// host's own error logs and stack traces.
    /// </summary>
    public static void CheckBeforeStart(IServiceProvider services, IEnumerable<(string Setting, IPEndPoint Endpoint)> listeners)
    {
        services.GetService<IStartupValidator>()?.Validate();
        foreach (var (setting, endpoint) in listeners)
        {
            EnsurePortFree(setting, endpoint);
        }
    }

    /// <summary>
    /// Connects once to each service the program needs from its start (the site's PostgreSQL database, Redis
    /// membership), before the host starts: one that does not answer is then one line and
    /// <see cref="UnreachableExitCode"/>, not the host's start failure logged with stack traces.
    /// </summary>
    public static async Task EnsureReachableAsync(IServiceProvider services, IConfiguration configuration)
    {
        if (services.GetService<IOptions<SiteOptions>>()?.Value is { } site && SiteStores.IsPostgres(site.Store)
            && services.GetService<NpgsqlDataSource>() is { } database)
        {
            await using (await database.OpenConnectionAsync())
            {
            }

            // Migrated at start otherwise; without that (a deploy that migrates in a job of its own), a silo must not
            // serve on a schema its statements do not fit yet.
            if (services.GetService<IOptions<Database.DatabaseOptions>>()?.Value.MigrateOnStart == false)
            {
                await Database.SchemaMigrator.EnsureCurrentAsync(database);
            }
        }

        var cluster = TrackerSiloHosting.ReadClusterOptions(configuration);
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            ConfigurationOptions redis;
            try
            {
                redis = cluster.ReadRedisConfiguration();
            }
            catch (ArgumentException)
            {
                // Its message may quote the setting, and with it the password.
                throw new StartupProblemException("Cluster:Redis cannot be read as a Redis connection (host:port,password=...).");
            }

            redis.AbortOnConnectFail = true;
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        }
    }

    /// <summary>The silo's own listeners: silo-to-silo and gateway ports, on the address the silo binds them to.</summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> SiloListeners(TrackerClusterOptions cluster)
    {
        var address = TrackerSiloHosting.ListenAddress(cluster);
        return
        [
            ($"{TrackerClusterOptions.Section}:{nameof(TrackerClusterOptions.SiloPort)}", new IPEndPoint(address, cluster.SiloPort)),
            ($"{TrackerClusterOptions.Section}:{nameof(TrackerClusterOptions.GatewayPort)}", new IPEndPoint(address, cluster.GatewayPort)),
        ];
    }

    /// <summary>The HTTP listeners named by the <c>Urls</c> setting (<c>--urls</c>, <c>ASPNETCORE_URLS</c>) whose address is known before start.</summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> HttpListeners(string? urls)
    {
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Microsoft.AspNetCore.Http.BindingAddress binding;
            try
            {
                binding = Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                throw new StartupProblemException($"Urls: '{url}' is not a URL to listen on (e.g. http://0.0.0.0:6969).");
            }

            if (binding.Port is < 0 or > IPEndPoint.MaxPort)
            {
                throw new StartupProblemException($"Urls: '{url}' names no port between 1 and 65535.");
            }

            var address = binding.Host is "*" or "+" or "localhost" ? IPAddress.Any
                : IPAddress.TryParse(binding.Host.Trim('[', ']'), out var parsed) ? parsed
                : null;
            if (address is not null)
            {
                yield return ("Urls", new IPEndPoint(address, binding.Port));
            }
        }
    }

    private static void EnsurePortFree(string setting, IPEndPoint endpoint)
    {
        if (endpoint.Port == 0)
        {
            return;
        }

        using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(endpoint);
            probe.Listen();
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            var why = exception.SocketErrorCode == SocketError.AddressAlreadyInUse ? "is already in use by another process" : "may not be opened by this user";
            throw new StartupProblemException($"{setting}: port {endpoint.Port} {why}.");
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            // A silo listens on the address it advertises (Cluster:AdvertisedAddress); Urls may name one too.
            var named = setting.StartsWith(TrackerClusterOptions.Section + ":", StringComparison.Ordinal) ? " (Cluster:AdvertisedAddress)" : "";
            throw new StartupProblemException(
                $"{setting}: port {endpoint.Port} cannot be opened on {endpoint.Address}, which is no address of this host{named}.");
        }
    }

    private static (string Line, int ExitCode)? Describe(Exception exception) =>
        Unreachable(exception) is { } unreachable ? (unreachable, UnreachableExitCode)
        : exception is ServiceFailedException failed ? (failed.Message, FailedExitCode)
        // A stop asked for (SIGTERM) while the program still waited for something to start, or a stop that outran its
        // time: not a clean run.
        : exception is OperationCanceledException ? ("stopped while a step of its start or stop was cancelled (a stop asked for during the start, or the stop's time running out).", FailedExitCode)
        : Mistake(exception) is { } mistake ? (mistake, ExitCode)
        : null;

    /// <summary>A service the program needs did not answer: it may be starting, restarting or failing over.</summary>
    private static string? Unreachable(Exception exception) => exception switch
    {
        // (The messages name no password.)
        NpgsqlException { InnerException: SocketException socket } => $"Database:ConnectionString: the database cannot be reached ({socket.Message}).",
        NpgsqlException { InnerException: TimeoutException } => "Database:ConnectionString: the database did not answer in time.",
        // A host name that does not resolve (yet): Npgsql may let the resolver's error through as it is.
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } socket =>
            $"a host in Database:ConnectionString or Cluster:Redis cannot be resolved ({socket.Message}).",
        RedisConnectionException { FailureType: not ConnectionFailureType.AuthenticationFailure } => "Cluster:Redis: Redis cannot be reached.",
        Database.SchemaBehindException behind => $"Database:ConnectionString: {behind.Message}",
        _ => exception.InnerException is { } cause ? Unreachable(cause) : exception is AggregateException aggregate ? aggregate.InnerExceptions.Select(Unreachable).FirstOrDefault(line => line is not null) : null,
    };

    private static string? Mistake(Exception exception)
    {
        switch (exception)
        {
            case StartupProblemException problem:
                return problem.Message;
            case OptionsValidationException invalid:
                return string.Join(" ", invalid.Failures);
            case AggregateException aggregate when aggregate.InnerExceptions.Select(Mistake).OfType<string>().ToList() is { Count: > 0 } problems:
                return string.Join(" ", problems);
            case InvalidOperationException when ConversionFailure().Match(exception.Message) is { Success: true } conversion:
                return $"{conversion.Groups["key"].Value}: '{conversion.Groups["value"].Value}' is not {FriendlyType(conversion.Groups["type"].Value)}.";
            case InvalidOperationException when UnknownKeys().Match(exception.Message) is { Success: true } unknown:
                return $"unknown setting {unknown.Groups["keys"].Value} in section {SectionOf(unknown.Groups["type"].Value)}: check its spelling against appsettings.json.";
            case IOException { InnerException: { } inner } when Mistake(inner) is { } described:
                return described;
            case IOException io when io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase):
                return io.Message;
            // A database that will not let us in: a wrong password or database name. (The messages name no password.)
            case PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName } refused:
                return $"Database:ConnectionString: the database refused the connection ({refused.MessageText}).";
            // Migrated by another role (the schema's owner) without the grants the tracker's role needs.
            case PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } denied:
                return $"Database:ConnectionString: the database role may not do what the tracker needs ({denied.MessageText}): "
                    + "grant it the tracker's rights (deploy/sql/roles/grant-tracker.sql); a role that does not own the schema cannot migrate it either "
                    + "(set Database:MigrateOnStart=false and migrate as the owner).";
            case RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }:
                return "Cluster:Redis (or Cluster:RedisPassword): Redis refused the password.";
            default:
                return exception.InnerException is { } cause ? Mistake(cause) : null;
        }
    }

    private static string FriendlyType(string type) => type switch
    {
        "System.TimeSpan" => "a time span (hh:mm:ss, e.g. 00:30:00)",
        "System.Int32" or "System.Int64" => "a whole number",
        "System.Boolean" => "true or false",
        "System.Decimal" or "System.Double" => "a number",
        _ => "a " + type,
    };

    /// <summary>The configuration section of an options class (its <c>Section</c> constant), as the operator writes it.</summary>
    private static string SectionOf(string optionsTypeName) =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Select(assembly => assembly.GetType(optionsTypeName))
            .OfType<Type>()
            .Select(type => type.GetField("Section")?.GetValue(null) as string)
            .FirstOrDefault(section => section is not null)
        ?? optionsTypeName.Split('.')[^1];

    [GeneratedRegex("^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();

    [GeneratedRegex("properties were not found on the instance of (?<type>[^:]+): (?<keys>.+)$", RegexOptions.Singleline)]
    private static partial Regex UnknownKeys();
}

/// <summary>A start refused for a reason the operator can fix; its message is the one line they see.</summary>
public sealed class StartupProblemException(string message) : Exception(message);

/// <summary>A background service failed while the program ran, which stopped it.</summary>
public sealed class ServiceFailedException(string service, Exception failure)
    : Exception($"stopped because {service} failed ({failure.GetType().Name}: {failure.Message}); the log above has the details.", failure);
