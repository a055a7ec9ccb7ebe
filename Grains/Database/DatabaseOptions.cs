namespace Chihaya.Orleans.Grains.Database;

/// <summary>The site's PostgreSQL database. Section "Database".</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>
    /// Npgsql connection string, e.g. <c>Host=db;Database=site;Username=tracker;Password=…</c>. A secret:
    /// pass it by environment (<c>Database__ConnectionString</c>).
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Apply the schema's pending migrations when a silo starts (safe with many silos: they take turns).</summary>
    public bool MigrateOnStart { get; set; } = true;
}
