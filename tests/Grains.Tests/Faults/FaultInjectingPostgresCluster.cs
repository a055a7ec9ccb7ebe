using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Cluster;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// A one-silo cluster, new for each test, on a PostgreSQL database of its own, whose store fails reads and writes on
/// demand (<see cref="FaultInjectingSiteStore"/>), with a fake clock new for each test (Orleans keeps time by it too)
/// and the silo's warnings and errors kept for the test to read. Ready once the silo listens for the site's changes.
/// <typeparamref name="TSilo"/> sets the silo's options.
/// </summary>
public abstract class FaultInjectingPostgresCluster<TSilo> : IAsyncLifetime
    where TSilo : FaultInjectingPostgresSilo, new()
{
    protected PostgresTestDatabase Database { get; private set; } = null!;

    protected TestCluster Cluster { get; private set; } = null!;

    /// <summary>The silo's clock.</summary>
    protected static FakeTimeProvider Clock => FaultInjectingPostgresSilo.StateOf(typeof(TSilo)).Clock;

    /// <summary>The silo's store (the silo runs in this process).</summary>
    private protected static FaultInjectingSiteStore Store => FaultInjectingPostgresSilo.StateOf(typeof(TSilo)).Store!;

    protected IServiceProvider Silo => ((InProcessSiloHandle)Cluster.Primary!).SiloHost.Services;

    public async Task InitializeAsync()
    {
        Database = await PostgresTestDatabase.CreateAsync();
        await PrepareDatabaseAsync();
        FaultInjectingPostgresSilo.Prepare(typeof(TSilo), new FakeTimeProvider(DateTimeOffset.UtcNow), Database.ConnectionString);
        Cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<TSilo>().Build();
        await Cluster.DeployAsync();
        // Its first re-read of everything held is done too.
        await Silo.GetServices<IHostedService>().OfType<SiteChangeListener>().Single().Listening.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Database.DisposeAsync();
    }

    /// <summary>Rows the tests need before the silo starts (and so before it listens: no notice of them reaches it).</summary>
    protected virtual Task PrepareDatabaseAsync() => Task.CompletedTask;

    /// <summary>Moves the silo's clock on and waits for its housekeeping at the new time (<see cref="SiloClock"/>).</summary>
    protected Task TickAsync(TimeSpan step) => SiloClock.TickAsync(Clock, Silo, step);
}

/// <summary>The silo of a <see cref="FaultInjectingPostgresCluster{TSilo}"/>.</summary>
public abstract class FaultInjectingPostgresSilo : ISiloConfigurator
{
    // One per kind of silo: test classes run in parallel, each class's tests one at a time.
    private static readonly ConcurrentDictionary<Type, SiloState> States = new();

    internal static SiloState StateOf(Type silo) => States[silo];

    internal static void Prepare(Type silo, FakeTimeProvider clock, string connectionString) => States[silo] = new SiloState(clock, connectionString);

    public void Configure(ISiloBuilder siloBuilder)
    {
        var state = States[GetType()];
        siloBuilder.Services.AddSingleton<TimeProvider>(state.Clock);
        siloBuilder.Services.AddFakeLogging(options => options.FilteredLevels = new HashSet<LogLevel> { LogLevel.Warning, LogLevel.Error, LogLevel.Critical });
        PostgresSilo.Configure(siloBuilder, state.ConnectionString, sp => state.Store = new FaultInjectingSiteStore(ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp)));
        ConfigureOptions(siloBuilder.Services);
    }

    /// <summary>The options the tests of this silo need (PostgresSilo's are set before).</summary>
    protected virtual void ConfigureOptions(IServiceCollection services)
    {
    }

    internal sealed class SiloState(FakeTimeProvider clock, string connectionString)
    {
        public FakeTimeProvider Clock { get; } = clock;

        public string ConnectionString { get; } = connectionString;

        public FaultInjectingSiteStore? Store { get; set; }
    }
}
