namespace Chihaya.Orleans.TestSupport;

/// <summary>Finds the repository root: the folder holding the solution.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Chihaya.Orleans.sln")))
            {
                return folder.FullName;
            }
        }

        throw new DirectoryNotFoundException("Chihaya.Orleans.sln not found above " + AppContext.BaseDirectory);
    }
}
