using Chihaya.Orleans.Grains.Interfaces;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Health;

/// <summary>Stateless, so it runs on the silo the gateway reached: a reply proves that silo answers calls.</summary>
[StatelessWorker]
[GrainType("healthprobe")]
internal sealed class HealthProbeGrain(ILocalSiloDetails silo) : Grain, IHealthProbeGrain
{
    public ValueTask<string> Probe() => ValueTask.FromResult(silo.SiloAddress.ToParsableString());
}
