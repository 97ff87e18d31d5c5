// Runs EPUBCheck on many files in one JVM: starting Java once per book cost ~6 s each.
// Prints one line per file: "RESULT <fatal> <errors> <warnings> <path>", after EPUBCheck's own messages.
import com.adobe.epubcheck.api.EpubCheck;
import com.adobe.epubcheck.util.DefaultReportImpl;
import java.io.File;

public class EpubCheckMany {
    public static void main(String[] args) {
        for (String path : args) {
            DefaultReportImpl report = new DefaultReportImpl(path);
            new EpubCheck(new File(path), report).doValidate();
            System.out.println("RESULT " + report.getFatalErrorCount() + " " + report.getErrorCount() + " "
                    + report.getWarningCount() + " " + path);
        }
    }
}
