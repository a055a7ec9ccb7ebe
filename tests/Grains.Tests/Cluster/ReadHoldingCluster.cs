using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Faults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// A one-silo cluster, new for each test, whose in-memory site answers a read or a write only when the test releases
/// it (<see cref="ReadHoldingSiteStore"/>): for tests of what the tracker does while the database is slow.
/// <typeparamref name="TSilo"/> sets the silo's options.
/// </summary>
public abstract class ReadHoldingCluster<TSilo> : IAsyncLifetime
    where TSilo : ReadHoldingSilo, new()
{
    /// <summary>A bound on waiting for what a test drives; the order itself comes from the held reads and writes.</summary>
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    protected TestCluster Cluster { get; private set; } = null!;

    /// <summary>The silo's store (the silo runs in this process).</summary>
    private protected static ReadHoldingSiteStore Store => ReadHoldingSilo.StoreOf(typeof(TSilo));

    protected ISiteAdminGrain Admin => Cluster.GrainFactory.GetGrain<ISiteAdminGrain>(0);

    public async Task InitializeAsync()
    {
        Cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<TSilo>().Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>The silo of a <see cref="ReadHoldingCluster{TSilo}"/>: the tracker's grains on a read-holding in-memory site.</summary>
public abstract class ReadHoldingSilo : ISiloConfigurator
{
    // One per kind of silo: test classes run in parallel, each class's tests one at a time.
    private static readonly ConcurrentDictionary<Type, ReadHoldingSiteStore> Stores = new();

    internal static ReadHoldingSiteStore StoreOf(Type silo) => Stores[silo];

    public void Configure(ISiloBuilder siloBuilder)
    {
        siloBuilder.Services.AddSingleton<ISiteStore>(_ => Stores[GetType()] = new ReadHoldingSiteStore(new InMemorySiteStore()));
        siloBuilder.AddTrackerGrains(new ConfigurationBuilder().Build());
        ConfigureOptions(siloBuilder.Services);
    }

    /// <summary>The options the tests of this silo need.</summary>
    protected abstract void ConfigureOptions(IServiceCollection services);
}
