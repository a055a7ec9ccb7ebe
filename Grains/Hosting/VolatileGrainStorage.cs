using Orleans.Storage;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// The embedded tracker's grain storage: keeps nothing. Its site lives in the same process, so nothing could
/// outlive a restart anyway, and grains skip snapshots altogether when <see cref="GrainPersistence.IsDurable"/> says so.
/// </summary>
internal sealed class VolatileGrainStorage : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;
}
