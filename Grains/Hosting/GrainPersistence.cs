namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Whether the tracker's grain storage outlives a silo (PostgreSQL) or not (the embedded tracker).</summary>
/// <param name="IsDurable">False: writing grain state would cost time and keep nothing, so grains skip it.</param>
internal sealed record GrainPersistence(bool IsDurable);
