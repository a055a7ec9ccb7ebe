namespace Chihaya.Orleans.Grains.Site;

/// <summary>The values of <see cref="SiteOptions.Store"/>.</summary>
public static class SiteStores
{
    public const string Memory = "Memory";
    public const string Postgres = "Postgres";

    public static bool IsPostgres(string store) => store.Equals(Postgres, StringComparison.OrdinalIgnoreCase);
}
