namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// Answered by whichever silo takes the call (stateless, key 0): a gateway's readiness probe calls it to learn that
/// at least one silo is reachable through the cluster, the path every announce takes.
/// </summary>
[Alias("Chihaya.IHealthProbeGrain")]
public interface IHealthProbeGrain : IGrainWithIntegerKey
{
    /// <summary>The answering silo's address, for the probe's report.</summary>
    [Alias("Probe")]
    ValueTask<string> Probe();
}
