using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// Makes <see cref="ITorrentGrain"/> references for the announce path. Orleans' <c>GetGrain&lt;T&gt;(string)</c> works
/// out the interface's grain type on every call, by reading attributes and formatting the type's name (measured with
/// perf under the bench's load: several percent of the gateway's CPU); here that is done once, and each reference is
/// the grain id made from the info hash's key bytes (40 lower-case hex characters, as <see cref="InfoHash.ToGrainKey"/>).
/// </summary>
public sealed class TorrentGrainReferences
{
    private readonly IGrainFactory _grains;
    private readonly GrainType _grainType;
    private readonly GrainInterfaceType _interfaceType;

    public TorrentGrainReferences(IGrainFactory grains)
    {
        _grains = grains;
        // One reference made the ordinary way names both types; making it calls nothing.
        var sample = (GrainReference)(object)grains.GetGrain<ITorrentGrain>(default(InfoHash).ToGrainKey());
        _grainType = sample.GrainId.Type;
        _interfaceType = sample.InterfaceType;
    }

    /// <summary>The swarm of <paramref name="infoHash"/>: the same grain as <c>GetGrain&lt;ITorrentGrain&gt;(infoHash.ToGrainKey())</c>.</summary>
    public ITorrentGrain For(InfoHash infoHash) =>
        (ITorrentGrain)_grains.GetGrain(GrainId.Create(_grainType, new IdSpan(infoHash.ToGrainKeyUtf8())), _interfaceType);
}
