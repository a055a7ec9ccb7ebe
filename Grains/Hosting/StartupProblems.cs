using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// Turns what an operator got wrong (a setting that cannot be read, an unknown key, a value out of range, a port
/// already taken) into one line on standard error and exit status 2, before anything starts. Anything else is a
/// bug and keeps its stack trace.
/// </summary>
public static partial class StartupProblems
{
    /// <summary>The exit status for a start refused because of the configuration or the machine.</summary>
    public const int ExitCode = 2;

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
            Console.Error.WriteLine($"{program}: {problem}");
            return ExitCode;
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

    /// <summary>The silo's own listeners: silo-to-silo and gateway ports, on every address as the silo may bind them.</summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> SiloListeners(TrackerClusterOptions cluster) =>
    [
        ($"{TrackerClusterOptions.Section}:{nameof(TrackerClusterOptions.SiloPort)}", new IPEndPoint(IPAddress.Any, cluster.SiloPort)),
        ($"{TrackerClusterOptions.Section}:{nameof(TrackerClusterOptions.GatewayPort)}", new IPEndPoint(IPAddress.Any, cluster.GatewayPort)),
    ];

    /// <summary>The HTTP listeners named by the <c>Urls</c> setting (<c>--urls</c>, <c>ASPNETCORE_URLS</c>) whose address is known before start.</summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> HttpListeners(string? urls)
    {
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var binding = Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
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
    }

    private static string? Describe(Exception exception)
    {
        switch (exception)
        {
            case StartupProblemException problem:
                return problem.Message;
            case OptionsValidationException invalid:
                return string.Join(" ", invalid.Failures);
            case AggregateException aggregate when aggregate.InnerExceptions.Select(Describe).OfType<string>().ToList() is { Count: > 0 } problems:
                return string.Join(" ", problems);
            case InvalidOperationException when ConversionFailure().Match(exception.Message) is { Success: true } conversion:
                return $"{conversion.Groups["key"].Value}: '{conversion.Groups["value"].Value}' is not {FriendlyType(conversion.Groups["type"].Value)}.";
            case InvalidOperationException when UnknownKeys().Match(exception.Message) is { Success: true } unknown:
                return $"unknown setting {unknown.Groups["keys"].Value} in section {SectionOf(unknown.Groups["type"].Value)}: check its spelling against appsettings.json.";
            case IOException { InnerException: { } inner } when Describe(inner) is { } described:
                return described;
            case IOException io when io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase):
                return io.Message;
            // A database that cannot be reached or will not let us in: a wrong host, port, password or database name.
            // (The messages name no password.)
            case NpgsqlException { InnerException: SocketException socket }:
                return $"Database:ConnectionString: the database cannot be reached ({socket.Message}).";
            case PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName } refused:
                return $"Database:ConnectionString: the database refused the connection ({refused.MessageText}).";
            default:
                return exception.InnerException is { } cause ? Describe(cause) : null;
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
